"""payments HTTP API: start payments (202, saga runs over Kafka), read them, billers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select

from services.payments import domain, handlers, store
from services.payments.directory import Directory
from services.payments.domain import Kind, PaymentRejected
from shared.auth import CurrentCustomer, Operator, Principal
from shared.money import format_minor
from shared.observability import correlation_id_var
from shared.pagination import newest_first, next_keyset
from shared.phone import normalise_phone
from shared.problems import PROBLEM_JSON, Problem, not_found
from shared.runtime import Runtime
from shared.schemas.accounts import AccountDirectoryEntry
from shared.schemas.payments import (
    BillCreate,
    BillerList,
    BillerPublic,
    MerchantList,
    MerchantPublic,
    Payee,
    PaymentPage,
    PaymentPublic,
    PaymentsSummary,
    QrCreate,
    TopupCreate,
    TransferCreate,
)

router = APIRouter(prefix="/v1", tags=["payments"])
PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "Problem details (RFC 9457)"}
PAYABLE_KINDS = ("checking", "savings")


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _ctx(request: Request) -> handlers.Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def _directory(request: Request) -> Directory:
    return request.app.state.directory  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
ContextDep = Annotated[handlers.Context, Depends(_ctx)]
DirectoryDep = Annotated[Directory, Depends(_directory)]


def public(p: store.Payment) -> PaymentPublic:
    payee_kind = {"transfer": "account", "bill": "biller", "qr": "merchant", "topup": "mobile"}[p.kind]
    return PaymentPublic(
        id=p.id,
        kind=p.kind,  # type: ignore[arg-type]
        status=domain.public_status(domain.Stage(p.stage)),  # type: ignore[arg-type]
        stage=p.stage,
        amount=format_minor(p.amount_minor, p.currency),
        amount_minor=p.amount_minor,
        currency=p.currency,
        payer_account_id=p.payer_account_id,
        payee=Payee(
            kind=payee_kind,  # type: ignore[arg-type]
            label=p.payee_label,
            account_id=p.payee_account_id if p.kind == Kind.TRANSFER else None,
            reference=p.reference,
        ),
        note=p.note,
        reason=p.reason,
        detail=p.detail,
        created_at=p.created_at,
        updated_at=p.updated_at,
        completed_at=p.completed_at,
        links={"self": f"/v1/payments/{p.id}"},
    )


def _key(request: Request) -> str:
    key = request.headers.get("idempotency-key", "").strip()
    if not key or len(key) > 255:
        raise Problem(400, "idempotency-key-missing", "payments need an Idempotency-Key header (1-255 characters)")
    return key


def _currency(currency: str) -> None:
    if currency != "CNY":
        raise PaymentRejected("unsupported-currency", f"currency {currency!r} is not supported; use CNY")


async def _payer(directory: Directory, principal: Principal, account_id: str) -> AccountDirectoryEntry:
    payer = await directory.account(account_id)
    if payer is None or payer.customer_id != principal.customer_id:
        raise Problem(404, "not-found", f"account {account_id} was not found")
    if payer.kind not in PAYABLE_KINDS:
        raise PaymentRejected("account-cannot-pay", f"payments are made from checking or savings, not {payer.kind}")
    return payer


@dataclass(frozen=True)
class Recipient:
    """Who receives a payment, resolved from the request."""

    account_id: str
    customer_id: str | None
    key: str  # what "a payee the customer has paid before" means for this kind
    label: str
    reference: str = ""


Resolve = Callable[[], Awaitable[tuple[Recipient, int]]]


class PaymentDeps:
    """The request's collaborators, so each payment kind only says how it finds its payee."""

    def __init__(
        self,
        request: Request,
        principal: Principal,
        runtime: Runtime,
        ctx: handlers.Context,
        directory: Directory,
    ) -> None:
        self.request, self.principal, self.runtime, self.ctx, self.directory = (
            request,
            principal,
            runtime,
            ctx,
            directory,
        )

    async def pay(self, kind: Kind, payer_account_id: str, currency: str, resolve: Resolve, note: str = "") -> Response:
        """Validate, resolve payer and payee, persist the saga and answer 202; any refusal
        becomes a problem and nothing is written."""
        key = _key(self.request)
        try:
            _currency(currency)
            payee, amount = await resolve()
            payer = await _payer(self.directory, self.principal, payer_account_id)
            if payee.account_id == payer.id:
                raise PaymentRejected("same-account", "the payer and payee accounts are the same")
            domain.check_per_payment_limit(amount, payer.kyc_class, self.ctx.policy)
            draft = handlers.Draft(
                kind=kind,
                customer_id=self.principal.customer_id,
                idempotency_key=key,
                payer_account_id=payer.id,
                payer_class=payer.kyc_class,
                payee_account_id=payee.account_id,
                payee_customer_id=payee.customer_id,
                payee_key=payee.key,
                payee_label=payee.label,
                amount_minor=amount,
                reference=payee.reference,
                note=note,
            )
        except PaymentRejected as exc:
            raise Problem(exc.status, exc.slug, exc.detail) from None
        starter: handlers.Starter = self.request.app.state.starter
        payment = await starter.start(draft, correlation_id_var.get())
        return Response(
            public(payment).model_dump_json(),
            status_code=202,
            media_type="application/json",
            headers={"location": f"/v1/payments/{payment.id}"},
        )


async def _payment_deps(
    request: Request, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep, directory: DirectoryDep
) -> PaymentDeps:
    # An async factory: FastAPI would run a class dependency's __init__ in its thread pool.
    return PaymentDeps(request, principal, runtime, ctx, directory)


Pay = Annotated[PaymentDeps, Depends(_payment_deps)]
POSTED = {"status_code": 202, "response_model": PaymentPublic, "responses": {404: PROBLEM, 422: PROBLEM}}


@router.post("/payments/transfers", **POSTED)
async def create_transfer(body: TransferCreate, deps: Pay) -> Response:
    """Send money to another account, by account id or by the payee's registered phone."""

    async def resolve() -> tuple[Recipient, int]:
        amount = domain.minor_from_decimal(body.amount)
        if (body.payee_account_id is None) == (body.payee_phone is None):
            raise PaymentRejected("invalid-payee", "give exactly one of payee_account_id or payee_phone")
        if body.payee_phone is not None:
            try:
                phone = normalise_phone(body.payee_phone)
            except ValueError as exc:
                raise PaymentRejected("invalid-payee", str(exc)) from None
            customer = await deps.directory.by_phone(phone)
            if customer is None or customer.default_account_id is None:
                raise PaymentRejected("unknown-payee", "no Sandbank customer with a checking account has this phone")
            account_id, customer_id, label = customer.default_account_id, customer.customer_id, customer.holder
        else:
            found = await deps.directory.account(body.payee_account_id)  # type: ignore[arg-type]
            if found is None or found.customer_id is None:
                raise PaymentRejected("unknown-payee", f"there is no customer account {body.payee_account_id}")
            if found.currency != body.currency:
                raise PaymentRejected("unknown-payee", "the payee account does not hold CNY")
            account_id, customer_id, label = found.id, found.customer_id, found.holder
        return Recipient(account_id, customer_id, f"account:{account_id}", label), amount

    return await deps.pay(Kind.TRANSFER, body.payer_account_id, body.currency, resolve, note=body.note)


@router.post("/payments/bills", **POSTED)
async def create_bill_payment(body: BillCreate, deps: Pay) -> Response:
    """Pay a utility bill (water, electricity, gas, phone) to a seeded biller."""

    async def resolve() -> tuple[Recipient, int]:
        amount = domain.minor_from_decimal(body.amount)
        biller = domain.BILLERS.get(body.biller_code)
        if biller is None:
            raise PaymentRejected("unknown-biller", f"there is no biller {body.biller_code!r}; see GET /v1/billers")
        biller.check_reference(body.bill_reference)
        key = f"biller:{biller.code}:{body.bill_reference}"
        return Recipient(biller.settlement_account_id, None, key, biller.name, body.bill_reference), amount

    return await deps.pay(Kind.BILL, body.payer_account_id, body.currency, resolve)


@router.post("/payments/qr", **POSTED)
async def create_qr_payment(body: QrCreate, deps: Pay) -> Response:
    """Pay a merchant by scanning its QR code (`sandbank://qr/v1?m=<merchant>&a=<amount>&r=<ref>`)."""

    async def resolve() -> tuple[Recipient, int]:
        qr = domain.parse_qr(body.qr_payload)
        merchant = domain.MERCHANTS.get(qr.merchant_id)
        if merchant is None:
            raise PaymentRejected("unknown-merchant", f"the QR code names an unknown merchant {qr.merchant_id!r}")
        asked = domain.minor_from_decimal(body.amount) if body.amount is not None else None
        if qr.amount_minor is not None and asked is not None and asked != qr.amount_minor:
            raise PaymentRejected("amount-mismatch", "the amount differs from the one in the QR code")
        amount = qr.amount_minor if qr.amount_minor is not None else asked
        if amount is None:
            raise PaymentRejected("invalid-amount", "this QR code carries no amount: send one")
        payee = Recipient(merchant.settlement_account_id, None, f"merchant:{merchant.id}", merchant.name, qr.reference)
        return payee, amount

    return await deps.pay(Kind.QR, body.payer_account_id, body.currency, resolve)


@router.post("/payments/topups", **POSTED)
async def create_topup(body: TopupCreate, deps: Pay) -> Response:
    """Top up a mobile phone's prepaid balance (up to 500 CNY)."""

    async def resolve() -> tuple[Recipient, int]:
        amount = domain.minor_from_decimal(body.amount)
        try:
            phone = normalise_phone(body.phone)
        except ValueError as exc:
            raise PaymentRejected("invalid-phone", str(exc)) from None
        if amount > domain.TOPUP_MAX_MINOR:
            raise PaymentRejected("limit-exceeded", f"top-ups are at most {format_minor(domain.TOPUP_MAX_MINOR)} CNY")
        return Recipient(domain.TOPUP_SETTLEMENT, None, f"mobile:{phone}", f"Mobile top-up {phone}", phone), amount

    return await deps.pay(Kind.TOPUP, body.payer_account_id, body.currency, resolve)


@router.get("/payments", response_model=PaymentPage)
async def list_payments(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PaymentPage:
    """The customer's payments, newest first."""
    query = select(store.Payment).where(store.Payment.customer_id == principal.customer_id)
    async with runtime.db.read() as session:
        rows = (await session.scalars(newest_first(query, store.Payment, cursor or None, limit))).all()
    return PaymentPage(items=[public(p) for p in rows[:limit]], next_cursor=next_keyset(list(rows), limit))


@router.get("/payments/{payment_id}", response_model=PaymentPublic, responses={404: PROBLEM})
async def get_payment(payment_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> PaymentPublic:
    """One payment with its status, stage and (if failed) the reason."""
    async with runtime.db.read() as session:
        payment = await session.get(store.Payment, payment_id)
    if payment is None or payment.customer_id != principal.customer_id:
        raise not_found("payment", payment_id)
    return public(payment)


@router.get("/billers", response_model=BillerList)
async def list_billers() -> BillerList:
    """Billers a customer can pay, with the shape of their bill references."""
    return BillerList(
        items=[
            BillerPublic(code=b.code, name=b.name, category=b.category, reference_hint=b.reference_hint)
            for b in domain.BILLERS.values()
        ]
    )


@router.get("/merchants", response_model=MerchantList)
async def list_merchants() -> MerchantList:
    """Seeded merchants, each with a QR payload to try."""
    return MerchantList(
        items=[
            MerchantPublic(id=m.id, name=m.name, city=m.city, qr_example=domain.qr_payload(m.id, "12.50"))
            for m in domain.MERCHANTS.values()
        ]
    )


@router.get("/admin/payments/summary", response_model=PaymentsSummary, tags=["operator"])
async def summary(_operator: Operator, runtime: RuntimeDep, ctx: ContextDep) -> PaymentsSummary:
    """Payments by stage, and how old the oldest unfinished saga is (operators)."""
    async with runtime.db.read() as session:
        counts = dict(
            (await session.execute(select(store.Payment.stage, func.count()).group_by(store.Payment.stage))).all()
        )
        oldest = await session.scalar(
            select(func.min(store.Payment.created_at)).where(store.Payment.stage.not_in(list(domain.TERMINAL)))
        )
    non_terminal = sum(n for stage, n in counts.items() if stage not in domain.TERMINAL)
    age = None
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=ctx.clock.now().tzinfo)
        age = (ctx.clock.now() - oldest).total_seconds()
    return PaymentsSummary(
        by_stage={str(k): int(v) for k, v in counts.items()}, non_terminal=non_terminal, oldest_non_terminal_s=age
    )
