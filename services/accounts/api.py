"""accounts HTTP API: queries for balances and statements, account opening, the
customer profile, and the operator's ledger check. Money moves only through
`accounts.commands`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import aliased

from services.accounts import handlers, store
from services.accounts.deps import ContextDep, RuntimeDep
from services.accounts.statements import line_view
from shared import audit
from shared.auth import CurrentCustomer, Operator, Principal, ServiceCaller, current_principal
from shared.errors import DomainError
from shared.listing import FromDay, ToDay, bank_days
from shared.money import format_minor
from shared.pagination import PageDep, decode_seq, encode_seq
from shared.problems import PROBLEM, not_found
from shared.runtime import Runtime
from shared.schemas.accounts import (
    KIND_FILTER_DOC,
    AccountCreate,
    AccountDirectoryEntry,
    AccountDirectoryList,
    AccountList,
    AccountPublic,
    ActiveHolds,
    CustomerCreate,
    CustomerDirectoryEntry,
    CustomerPublic,
    LedgerCheck,
    TransactionPage,
    TransactionPublic,
    mask_name,
)
from shared.schemas.statements import LineKind

router = APIRouter()

# This API's one table from domain errors to HTTP statuses (others answer 422).
ERROR_STATUSES: dict[type[DomainError], int] = {
    handlers.DuplicatePhone: 409,
    handlers.CustomerConflict: 409,
    handlers.TooManyAccounts: 409,
    handlers.SecuritiesAccountExists: 409,
}


async def _own_account(runtime: Runtime, principal: Principal, account_id: str) -> store.Account:
    async with runtime.db.read() as session:
        account = await session.get(store.Account, account_id)
    # Another customer's account is indistinguishable from a missing one.
    if account is None or (account.customer_id != principal.customer_id and not principal.has("service")):
        raise not_found("account", account_id)
    return account


@router.post(
    "/internal/customers",
    status_code=201,
    response_model=CustomerPublic,
    tags=["internal"],
    summary="Create a customer profile (called by the gateway at registration)",
)
async def create_customer(
    body: CustomerCreate, _caller: ServiceCaller, runtime: RuntimeDep, ctx: ContextDep
) -> CustomerPublic:
    async with runtime.unit_of_work() as uow:
        customer = await handlers.register_customer(
            ctx, uow, customer_id=body.customer_id, phone=body.phone, name=body.name, kyc_class=body.kyc_class
        )
    return CustomerPublic.model_validate(customer, from_attributes=True)


def _directory_entry(account: store.Account, customer: store.Customer | None) -> AccountDirectoryEntry:
    return AccountDirectoryEntry(
        id=account.id,
        customer_id=account.customer_id,
        kind=account.kind,
        currency=account.currency,
        kyc_class=customer.kyc_class if customer else None,
        holder=mask_name(customer.name if customer else account.name),
    )


@router.get(
    "/internal/accounts/{account_id}",
    response_model=AccountDirectoryEntry,
    tags=["internal"],
    summary="Look up an account (services resolving a payer or payee)",
)
async def directory_account(account_id: str, _caller: ServiceCaller, runtime: RuntimeDep) -> AccountDirectoryEntry:
    async with runtime.db.read() as session:
        row = (
            await session.execute(
                select(store.Account, store.Customer)
                .outerjoin(store.Customer, store.Customer.id == store.Account.customer_id)
                .where(store.Account.id == account_id)
            )
        ).first()
    if row is None:
        raise not_found("account", account_id)
    return _directory_entry(*row)


@router.get(
    "/internal/customers/{customer_id}/accounts",
    response_model=AccountDirectoryList,
    tags=["internal"],
    summary="A customer's accounts, oldest first (services choosing a customer's account)",
)
async def directory_customer_accounts(
    customer_id: str, _caller: ServiceCaller, runtime: RuntimeDep
) -> AccountDirectoryList:
    async with runtime.db.read() as session:
        customer = await session.get(store.Customer, customer_id)
        accounts = (
            await session.scalars(
                select(store.Account)
                .where(store.Account.customer_id == customer_id)
                .order_by(store.Account.created_at, store.Account.id)
            )
        ).all()
    return AccountDirectoryList(items=[_directory_entry(a, customer) for a in accounts])


@router.get(
    "/internal/holds/active",
    response_model=ActiveHolds,
    tags=["internal"],
    summary="Holds that still reserve funds, oldest first (the gateway's ledger check)",
)
async def list_active_holds(
    runtime: RuntimeDep, ctx: ContextDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 5_000
) -> ActiveHolds:
    async with runtime.db.read() as session:
        return ActiveHolds.model_validate(await handlers.active_holds(ctx, session, limit=limit))


@router.get(
    "/internal/customers/by-phone/{phone}",
    response_model=CustomerDirectoryEntry,
    tags=["internal"],
    summary="Find a customer by phone number (transfers to a phone)",
)
async def directory_phone(phone: str, _caller: ServiceCaller, runtime: RuntimeDep) -> CustomerDirectoryEntry:
    async with runtime.db.read() as session:
        customer = await session.scalar(select(store.Customer).where(store.Customer.phone == phone))
        if customer is None:
            raise not_found("customer with phone", phone)
        account_id = await session.scalar(
            select(store.Account.id)
            .where(store.Account.customer_id == customer.id, store.Account.kind == "checking")
            .order_by(store.Account.created_at, store.Account.id)
            .limit(1)
        )
    return CustomerDirectoryEntry(
        customer_id=customer.id,
        kyc_class=customer.kyc_class,
        holder=mask_name(customer.name),
        default_account_id=account_id,
    )


@router.get(
    "/v1/customers/me",
    response_model=CustomerPublic,
    tags=["customers"],
    responses={404: PROBLEM},
    summary="The caller's profile",
)
async def me(principal: CurrentCustomer, runtime: RuntimeDep) -> CustomerPublic:
    async with runtime.db.read() as session:
        customer = await session.get(store.Customer, principal.customer_id)
    if customer is None:
        raise not_found("customer", principal.customer_id)
    return CustomerPublic.model_validate(customer, from_attributes=True)


@router.get(
    "/v1/accounts", response_model=AccountList, tags=["accounts"], summary="The caller's accounts with balances"
)
async def list_accounts(principal: CurrentCustomer, runtime: RuntimeDep) -> AccountList:
    async with runtime.db.read() as session:
        rows = (
            await session.scalars(
                select(store.Account)
                .where(store.Account.customer_id == principal.customer_id)
                .order_by(store.Account.created_at, store.Account.id)
            )
        ).all()
    return AccountList(items=[AccountPublic.of(a) for a in rows])


@router.post(
    "/v1/accounts",
    status_code=201,
    response_model=AccountPublic,
    tags=["accounts"],
    responses={404: PROBLEM, 409: PROBLEM},
    summary="Open an account",
)
async def create_account(
    body: AccountCreate, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> AccountPublic:
    """Opens a checking, savings or securities cash account in CNY with a zero balance: at
    most 20 accounts, one of them securities cash (409 `too-many-accounts`,
    `securities-account-exists`)."""
    async with runtime.db.read() as session:
        if await session.get(store.Customer, principal.customer_id) is None:
            raise not_found("customer", principal.customer_id)
    async with runtime.unit_of_work() as uow:
        account = await handlers.open_account(
            ctx, uow, customer_id=principal.customer_id, kind=body.kind, currency=body.currency, name=body.name
        )
        await audit.record(
            uow.session,
            runtime.tables.audit,
            at=account.created_at,
            service=runtime.service,
            actor=audit.actor_of(principal),
            action="account.opened",
            subject_kind="account",
            subject_id=account.id,
            customer_id=account.customer_id,
            account_id=account.id,
            after={"kind": account.kind, "currency": account.currency, "name": account.name},
        )
    return AccountPublic.of(account)


@router.get(
    "/v1/accounts/{account_id}", response_model=AccountPublic, tags=["accounts"], summary="One account with balances"
)
async def get_account(
    account_id: str, principal: Annotated[Principal, Depends(current_principal)], runtime: RuntimeDep
) -> AccountPublic:
    return AccountPublic.of(await _own_account(runtime, principal, account_id))


@router.get(
    "/v1/accounts/{account_id}/transactions",
    response_model=TransactionPage,
    tags=["accounts"],
    summary="The account's statement, newest first",
)
async def list_transactions(
    account_id: str,
    principal: Annotated[Principal, Depends(current_principal)],
    runtime: RuntimeDep,
    page: PageDep,
    kind: Annotated[LineKind | None, Query(description=KIND_FILTER_DOC)] = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> TransactionPage:
    """Each line as the account holder reads it: its `kind` from this account's side
    (`transfer_out` for the payer, `transfer_in` for the payee ...), a description naming the
    other party (`Transfer to *i: lunch`, `Bill: State Grid Electricity, ref 1234567890`),
    and the business object behind it (`reference_kind`, `reference_id`: the payment a
    `payment_received` notification names, a deposit, an order, a policy or a claim).
    `kind` and the bank days `from`..`to` (Beijing time, on the sandbox clock, both
    included) narrow the statement."""
    start, end = bank_days(from_, to)
    account = await _own_account(runtime, principal, account_id)
    before = decode_seq(page.cursor, of="statement")
    entry = store.JournalEntry
    other = aliased(store.Account)
    query = (
        select(
            store.JournalLine,
            entry.kind,
            entry.reference,
            entry.description,
            entry.reference_kind,
            entry.reference_id,
            other.customer_id,
        )
        .join(entry, entry.id == store.JournalLine.entry_id)
        .outerjoin(other, other.id == store.JournalLine.counterparty_account_id)
        .where(store.JournalLine.account_id == account_id)
        .order_by(store.JournalLine.id.desc())
        .limit(page.limit + 1)
    )
    if before is not None:
        query = query.where(store.JournalLine.id < before)
    if kind is not None:
        query = query.where(store.JournalLine.kind == kind)
    if start is not None:
        query = query.where(store.JournalLine.created_at >= start)
    if end is not None:
        query = query.where(store.JournalLine.created_at < end)
    async with runtime.db.read() as session:
        rows = (await session.execute(query)).all()
    items = []
    for line, entry_kind, entry_reference, entry_description, reference_kind, reference_id, holder in rows[
        : page.limit
    ]:
        view = line_view(
            entry_kind=entry_kind,
            entry_reference=entry_reference,
            entry_description=entry_description,
            reference_kind=reference_kind,
            reference_id=reference_id,
            line_kind=line.kind,
            line_description=line.description,
            amount_minor=line.amount_minor,
        )
        items.append(
            TransactionPublic(
                id=line.id,
                entry_id=line.entry_id,
                kind=view.kind,
                direction="credit" if line.amount_minor > 0 else "debit",
                amount=format_minor(abs(line.amount_minor), line.currency),
                amount_minor=line.amount_minor,
                currency=line.currency,
                balance_after=format_minor(line.balance_after_minor, line.currency),
                balance_after_minor=line.balance_after_minor,
                # Another customer's account id is theirs to give: the line names them by
                # their masked name, as the payment does (the bank's own accounts show).
                counterparty_account_id=(
                    line.counterparty_account_id if holder is None or holder == account.customer_id else None
                ),
                description=view.description,
                reference_kind=view.reference_kind,
                reference_id=view.reference_id,
                created_at=line.created_at,
            )
        )
    next_cursor = encode_seq(items[-1].id, of="statement") if len(rows) > page.limit else None
    return TransactionPage(items=items, next_cursor=next_cursor)


@router.get(
    "/v1/admin/ledger/check",
    response_model=LedgerCheck,
    tags=["operator"],
    summary="Run the ledger invariant check",
)
async def ledger_check(
    _operator: Operator,
    runtime: RuntimeDep,
    ctx: ContextDep,
    stale_after_s: Annotated[int, Query(ge=1, le=86400)] = 600,
) -> LedgerCheck:
    """Sum of all balances per currency is zero; every balance equals its journal lines;
    every journal entry balances; held amounts equal active holds; no available balance
    below zero without overdraft; no hold outlives its saga's timeout."""
    async with runtime.db.read() as session:
        return LedgerCheck.model_validate(await handlers.check_ledger(ctx, session, stale_after_s=stale_after_s))
