"""Bank-securities transfer routes."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.securities import domain, handlers, store, views
from services.securities.deps import AccountsDep, ContextDep, RuntimeDep, json_answer
from shared.auth import CurrentCustomer
from shared.idempotency import OptionalIdempotencyKey, create_once
from shared.money import format_minor
from shared.observability import correlation_id_var
from shared.pagination import PageDep, decode_seq, encode_seq
from shared.problems import PROBLEM, not_found
from shared.schemas.securities import BankTransferCreate, BankTransferPage, BankTransferPublic, SecuritiesCash

router = APIRouter(responses={401: PROBLEM})


@router.post(
    "/v1/securities/transfers",
    status_code=202,
    response_model=BankTransferPublic,
    tags=["transfers"],
    responses={
        200: {"model": BankTransferPublic, "description": "The transfer this Idempotency-Key already made"},
        409: PROBLEM,
        422: PROBLEM,
    },
    summary="Move cash between the bank and the securities cash account",
)
async def create_transfer(
    body: BankTransferCreate,
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    accounts: AccountsDep,
    idempotency_key: OptionalIdempotencyKey,
) -> JSONResponse:
    """`from: bank` moves cash from the checking account (or `bank_account_id`) to the
    securities cash account; `from: securities` moves it back. Answers 202 `pending`;
    the transfer is `completed` or `failed` (with accounts' reason) once accounts has
    answered. A transfer out may not take today's sale proceeds: they are withdrawable
    from the next bank day (422 `not-withdrawable-yet`, see `GET /v1/securities/cash`).
    In `a_share` hours mode, only during trading hours."""
    if idempotency_key is not None:
        async with runtime.db.read() as session:
            existing = await store.transfer_by_key(session, principal.customer_id, idempotency_key)
        if existing is not None:
            return _answer(views.transfer_public(existing), 200, replayed=True)
    amount_minor = domain.transfer_amount_minor(body.amount, body.currency)
    owned = await accounts.accounts_of(principal.customer_id)
    bank, securities = domain.transfer_accounts(owned, principal.customer_id, body.bank_account_id)
    cash = None
    if body.from_ == "bank":
        req = handlers.TransferRequest("bank_to_securities", bank.id, securities.id, amount_minor, body.currency)
    else:
        req = handlers.TransferRequest("securities_to_bank", securities.id, bank.id, amount_minor, body.currency)
        cash = await accounts.balance(securities.id)
    transfer, created = await create_once(
        runtime,
        partial(
            handlers.request_transfer,
            ctx,
            customer_id=principal.customer_id,
            key=idempotency_key,
            req=req,
            available_minor=cash.available_minor if cash is not None else None,
            correlation_id=correlation_id_var.get(),
        ),
        store.transfer_by_key,
        principal.customer_id,
        idempotency_key,
    )
    return _answer(views.transfer_public(transfer), 202 if created else 200, replayed=not created)


@router.get(
    "/v1/securities/transfers", response_model=BankTransferPage, tags=["transfers"], summary="The customer's transfers"
)
async def list_transfers(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    page: PageDep,
) -> BankTransferPage:
    query = select(store.BankTransfer).where(store.BankTransfer.customer_id == principal.customer_id)
    before = decode_seq(page.cursor, of="bank-transfers")
    if before is not None:
        query = query.where(store.BankTransfer.seq < before)
    async with runtime.db.read() as session:
        rows = (await session.scalars(query.order_by(store.BankTransfer.seq.desc()).limit(page.limit + 1))).all()
    items = [views.transfer_public(t) for t in rows[: page.limit]]
    return BankTransferPage(
        items=items,
        next_cursor=encode_seq(rows[page.limit - 1].seq, of="bank-transfers") if len(rows) > page.limit else None,
    )


@router.get(
    "/v1/securities/transfers/{transfer_id}",
    response_model=BankTransferPublic,
    tags=["transfers"],
    responses={404: PROBLEM},
    summary="One transfer",
)
async def get_transfer(transfer_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> BankTransferPublic:
    async with runtime.db.read() as session:
        transfer = await session.scalar(select(store.BankTransfer).where(store.BankTransfer.id == transfer_id))
    if transfer is None or transfer.customer_id != principal.customer_id:
        raise not_found("transfer", transfer_id)
    return views.transfer_public(transfer)


def _answer(model: BankTransferPublic, status: int, *, replayed: bool = False) -> JSONResponse:
    return json_answer(model, model.links["self"], status, replayed=replayed)


@router.get(
    "/v1/securities/cash",
    response_model=SecuritiesCash,
    tags=["transfers"],
    responses={409: PROBLEM},
    summary="The securities cash account: tradable and withdrawable",
)
async def get_cash(
    principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep, accounts: AccountsDep
) -> SecuritiesCash:
    """可用 / 可取: `tradable` is the available cash, today's sale proceeds included (they
    buy shares at once); `withdrawable` leaves them out until the next trading day (T+1:
    in `a_share` mode a Friday's proceeds over the weekend too, shown in `proceeds_today`)."""
    account = domain.securities_account(await accounts.accounts_of(principal.customer_id), principal.customer_id)
    cash = await accounts.balance(account.id)
    if cash is None:
        raise not_found("account", account.id)
    today = ctx.today()
    async with runtime.db.read() as session:
        proceeds = await store.sale_proceeds_since(session, principal.customer_id, account.id, ctx.unsettled_since())
    withdrawable = domain.withdrawable_minor(cash.available_minor, proceeds)
    return SecuritiesCash(
        account_id=account.id,
        currency=cash.currency,
        balance=format_minor(cash.balance_minor, cash.currency),
        balance_minor=cash.balance_minor,
        held=format_minor(cash.held_minor, cash.currency),
        held_minor=cash.held_minor,
        tradable=format_minor(cash.available_minor, cash.currency),
        tradable_minor=cash.available_minor,
        withdrawable=format_minor(withdrawable, cash.currency),
        withdrawable_minor=withdrawable,
        proceeds_today=format_minor(proceeds, cash.currency),
        proceeds_today_minor=proceeds,
        bank_day=today.isoformat(),
    )
