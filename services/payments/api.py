"""payments HTTP API: start payments and sandbox deposits (202: each saga runs over
Kafka), read them, billers and merchants."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import and_, func, or_, select

from services.payments import domain, handlers, store
from services.payments.deps import AccountsDep, ContextDep, RuntimeDep
from services.payments.domain import Kind, PaymentRejected
from shared import idempotency, payees, stepup
from shared.accounts_client import UNAVAILABLE, AccountsClient
from shared.auth import NO_TOKEN, NOT_A_CUSTOMER, CurrentCustomer, Operator, Principal, customer_of
from shared.errors import DomainError
from shared.idempotency import REPLAYED, OptionalIdempotencyKey, create_once, require_key
from shared.listing import FromDay, ToDay, bank_days
from shared.money import InvalidAmount, format_minor, to_minor
from shared.observability import correlation_id_var
from shared.pagination import SmallPageDep, newest_first, next_keyset
from shared.phone import normalise_phone
from shared.problems import PROBLEM, Problem, documents, not_found
from shared.runtime import Runtime
from shared.saga.model import COMPLETED, FAILED
from shared.schemas.accounts import AccountDirectoryEntry
from shared.schemas.payments import (
    DIRECTION_QUERY_DOC,
    BillCreate,
    BillerList,
    BillerPublic,
    DepositCreate,
    DepositPublic,
    MerchantList,
    MerchantPublic,
    Payee,
    PaymentDirection,
    PaymentKindName,
    PaymentPage,
    PaymentPublic,
    PaymentsSummary,
    PaymentStatusName,
    QrCreate,
    ScheduleCreate,
    TopupCreate,
    TransferCreate,
)
from shared.stepup import StepUpPolicy

router = APIRouter(prefix="/v1", tags=["payments"])
PAYABLE_KINDS = ("checking", "savings")

# This API's one table from domain errors to HTTP statuses (others answer 422).
ERROR_STATUSES: dict[type[DomainError], int] = {PaymentRejected: 422}


def shown_payee_account(p: domain.Payment) -> str | None:
    """The payee's account as the payer may see it: for a transfer to an account they named,
    that account. A transfer to a phone number keeps the number as its reference and shows
    no account: which account a number pays into is its owner's to give, and showing it
    would let anyone with a list of numbers collect account ids."""
    if p.kind != Kind.TRANSFER or p.reference:
        return None
    return p.payee_account_id


def public(p: domain.Payment, viewer: str | None = None) -> PaymentPublic:
    """The payment as `viewer` (a customer id) sees it: the payer all of it; the payee, of a
    transfer that reached them, no payer account and no failure detail."""
    if viewer is not None and viewer != p.customer_id and viewer == p.payee_customer_id:
        return _incoming(p)
    payee_kind = {"transfer": "account", "bill": "biller", "qr": "merchant", "topup": "mobile"}[p.kind]
    return PaymentPublic(
        id=p.id,
        kind=p.kind,  # type: ignore[arg-type]
        status=domain.public_status(p),  # type: ignore[arg-type]
        stage=domain.stage(p),
        amount=format_minor(p.amount_minor, p.currency),
        amount_minor=p.amount_minor,
        currency=p.currency,
        direction="outgoing",
        payer_account_id=p.payer_account_id,
        payer_label=p.payer_label,
        payee=Payee(
            kind=payee_kind,  # type: ignore[arg-type]
            label=p.payee_label,
            account_id=shown_payee_account(p),
            reference=p.reference,
        ),
        note=p.note,
        reason=p.reason,
        detail=p.detail,
        created_at=p.created_at,
        updated_at=p.updated_at,
        completed_at=p.ended_at,
        links={"self": f"/v1/payments/{p.id}"},
    )


def _incoming(p: domain.Payment) -> PaymentPublic:
    return PaymentPublic(
        id=p.id,
        kind=p.kind,  # type: ignore[arg-type]
        status=domain.public_status(p),  # type: ignore[arg-type]
        stage=domain.stage(p),
        amount=format_minor(p.amount_minor, p.currency),
        amount_minor=p.amount_minor,
        currency=p.currency,
        direction="incoming",
        payer_account_id=None,
        payer_label=p.payer_label,
        # The payee's own account and, for a transfer to their phone, their own number.
        payee=Payee(kind="account", label=p.payee_label, account_id=p.payee_account_id, reference=p.reference),
        note=p.note,
        created_at=p.created_at,
        updated_at=p.updated_at,
        completed_at=p.ended_at,
        links={"self": f"/v1/payments/{p.id}"},
    )


def visible_to(customer_id: str, direction: str | None = None) -> Any:
    """The payments a customer may see: those they made, and completed ones paid to them
    (a payee learns of a payment when its money arrives, not of attempts that failed)."""
    table = store.payment_table
    outgoing = table.c.customer_id == customer_id
    incoming = and_(
        table.c.payee_customer_id == customer_id,
        table.c.customer_id != customer_id,
        table.c.outcome == COMPLETED,
    )
    if direction == "outgoing":
        return outgoing
    if direction == "incoming":
        return incoming
    return or_(outgoing, incoming)


def _currency(currency: str) -> None:
    if currency != "CNY":
        raise PaymentRejected("unsupported-currency", f"currency {currency!r} is not supported; use CNY")


async def payer_account(
    directory: AccountsClient, runtime: Runtime, principal: Principal, account_id: str, *, fresh: bool = False
) -> AccountDirectoryEntry:
    """The customer's own account to pay from: another's is 404, a securities cash account 422.
    Its holder's class is the one the last KYC decision payments applied gave (store.PayerClass),
    else the directory's: an approved upgrade needs no question to accounts on each payment."""
    payer = await directory.account(account_id, fresh=fresh)
    if payer is None or payer.customer_id != principal.customer_id:
        raise Problem(404, "not-found", f"account {account_id} was not found")
    if payer.kind not in PAYABLE_KINDS:
        raise PaymentRejected("account-cannot-pay", f"payments are made from checking or savings, not {payer.kind}")
    return await with_current_class(runtime, payer)


async def with_current_class(runtime: Runtime, account: AccountDirectoryEntry) -> AccountDirectoryEntry:
    """The account with its holder's class as payments last heard it decided."""
    if account.customer_id is None:
        return account
    decided = await store.payer_class_of(runtime.db, account.customer_id)
    return account if decided is None else account.model_copy(update={"kyc_class": decided})


async def check_new_device(
    runtime: Runtime, ctx: handlers.Context, principal: Principal, amount_minor: int, payee_customer_id: str | None
) -> None:
    """A session on a new device (the gateway signs until when, shared/auth.py) pays
    others under the lower limits; a trusted device's payment, or a move between the
    customer's own accounts, reads nothing for this (it passes the class's limits too)."""
    if not domain.counts_toward_limits(principal.customer_id, payee_customer_id):
        return
    day = await new_device_day(runtime, ctx, principal)
    if day is not None:
        domain.check_new_device_limits(amount_minor, day.used_minor, day.limits)


async def new_device_day(runtime: Runtime, ctx: handlers.Context, principal: Principal) -> domain.NewDeviceDay | None:
    """Where the new-device limits stand today for this session (None: a trusted device),
    as `check_new_device` holds a payment to them."""
    until = principal.new_device_until
    if until is None or not domain.device_is_new(until, ctx.clock.now()):
        return None
    auth = runtime.settings.auth
    since, _ = bank_days(ctx.clock.bank_day(), None)
    async with runtime.db.read() as session:
        paid = await store.paid_to_others_since(session, principal.customer_id, since or ctx.clock.now())
    limits = domain.NewDeviceLimits(auth.new_device_per_payment_minor, auth.new_device_daily_minor)
    return domain.NewDeviceDay(limits, paid, datetime.fromtimestamp(until, UTC))


@dataclass(frozen=True)
class Recipient:
    """Who receives a payment, resolved from the request."""

    account_id: str
    customer_id: str | None
    key: str  # what "a payee the customer has paid before" means for this kind
    label: str
    reference: str = ""


async def transfer_recipient(
    directory: AccountsClient, account_id: str | None, phone: str | None, currency: str
) -> Recipient:
    """A transfer's payee, named by exactly one of an account id or a registered phone: a
    checking or savings account of a customer. A payee named by phone keeps that number as
    the reference, so it is shown by it, never by the account the number pays into."""
    if (account_id is None) == (phone is None):
        raise PaymentRejected("invalid-payee", "give exactly one of payee_account_id or payee_phone")
    if phone is not None:
        try:
            number = normalise_phone(phone)
        except ValueError as exc:
            raise PaymentRejected("invalid-payee", str(exc)) from None
        customer = await directory.by_phone(number)
        if customer is None or customer.default_account_id is None:
            raise PaymentRejected("unknown-payee", "no Sandbank customer with a checking account has this phone")
        paid_into = customer.default_account_id
        return Recipient(paid_into, customer.customer_id, payees.account_payee(paid_into), customer.holder, number)
    found = await directory.account(account_id)  # type: ignore[arg-type]
    if found is None or found.customer_id is None:
        raise PaymentRejected("unknown-payee", f"there is no customer account {account_id}")
    if found.currency != currency:
        raise PaymentRejected("unknown-payee", "the payee account does not hold CNY")
    check_payable(found)
    return Recipient(found.id, found.customer_id, payees.account_payee(found.id), found.holder)


def check_payable(account: AccountDirectoryEntry) -> None:
    """A transfer goes into checking or savings: securities cash is filled only by its
    owner, with POST /v1/securities/transfers (a look-up says so as a payment would)."""
    if account.kind not in PAYABLE_KINDS:
        raise PaymentRejected(
            "account-cannot-be-paid", f"transfers go into checking or savings accounts, not {account.kind}"
        )


# What a payment or schedule naming a customer's payee may answer once the customer's
# payee look-ups are spent.
LOOKUPS_SPENT: dict[int | str, dict[str, Any]] = {429: PROBLEM}


def take_lookup(lookups: domain.LookupAllowance, customer_id: str) -> None:
    """Spend one of the customer's payee look-ups, or refuse: 429 with Retry-After."""
    wait = lookups.take(customer_id, time.monotonic())
    if wait:
        seconds = str(max(1, int(wait + 0.999)))
        raise Problem(
            429,
            "rate-limited",
            f"too many payee look-ups; try again in {seconds} s",
            headers={"Retry-After": seconds},
        )


async def named_payee(
    ctx: handlers.Context,
    runtime: Runtime,
    lookups: domain.LookupAllowance,
    directory: AccountsClient,
    customer_id: str,
    body: TransferCreate | ScheduleCreate,
) -> Recipient:
    """The payee a transfer or schedule names, found as a look-up finds it and paid for as
    one: its answer (the payee's masked name, or that there is no such customer) tells
    what a look-up would, so an unknown payee, or one the customer has not met before,
    spends a look-up (429 once they are spent). A payee they have met is never refused:
    met in this process it spends nothing; met before it (a restart) it spends one while
    some are left, and the database is asked only once none are."""
    try:
        payee = await transfer_recipient(directory, body.payee_account_id, body.payee_phone, body.currency)
    except PaymentRejected as refused:
        if refused.code != "invalid-payee":  # a malformed request learns nothing of anyone
            take_lookup(lookups, customer_id)
        raise
    pair = (customer_id, payee.key)
    if payee.customer_id == customer_id or pair in ctx.known_payees or pair in ctx.met_payees:
        return payee  # a repeat payment, the bulk of them: nothing read, nothing spent
    # Met in this process or not, a look-up to spare is spent without asking the database
    # (a request of a customer paying as people do reads nothing more); only one who has
    # none left is asked whether they met this payee before, so a walk stops here.
    if lookups.take(customer_id, time.monotonic()) and not await met_before(runtime, customer_id, payee):
        take_lookup(lookups, customer_id)  # refused, with how long to wait
    # Remembered before the next await: several first payments to one payee sent at once
    # spend one look-up between them.
    ctx.met_payees.remember(*pair)
    return payee


async def met_before(runtime: Runtime, customer_id: str, payee: Recipient) -> bool:
    """Whether the customer was shown this payee before this process knew it: a payment of
    theirs to it in any outcome, or a saved payee (by the number or the account named)."""
    saved_ref = (
        domain.saved_payee_ref("phone", payee.reference)
        if payee.reference
        else domain.saved_payee_ref("account", payee.account_id)
    )
    async with runtime.db.read() as session:
        return await store.payee_met(session, customer_id, payee.key, saved_ref)


async def step_up_reason(
    ctx: handlers.Context,
    runtime: Runtime,
    policy: StepUpPolicy,
    customer_id: str,
    payee: Recipient,
    amount_minor: int,
    *,
    is_transfer: bool,
) -> str | None:
    """Why this payment needs a one-time code (shared/stepup.py), or None: a transfer to one
    of the customer's own accounts, or to a payee paid before, is not to a new payee."""
    known = True
    if policy.asks_about_payee(amount_minor=amount_minor, is_transfer=is_transfer):
        own = payee.customer_id == customer_id
        known = own or await paid_before(ctx, runtime, customer_id, payee.key)
    return policy.reason(amount_minor=amount_minor, is_transfer=is_transfer, payee_known=known)


Resolve = Callable[[], Awaitable[tuple[Recipient, int]]]


class PaymentDeps:
    """The request's collaborators, so each payment kind only says how it finds its payee."""

    def __init__(
        self,
        principal: Principal,
        key: str,
        ctx: handlers.Context,
        runtime: Runtime,
        directory: AccountsClient,
        starter: handlers.Starter,
        lookups: domain.LookupAllowance,
        approval: str | None,
    ) -> None:
        self.principal, self.key, self.ctx, self.runtime = principal, key, ctx, runtime
        self.directory, self.starter, self.lookups, self.approval = directory, starter, lookups, approval
        auth = runtime.settings.auth
        self.policy = StepUpPolicy.of(auth)

    async def pay(self, kind: Kind, payer_account_id: str, currency: str, resolve: Resolve, note: str = "") -> Response:
        """Validate, resolve payer and payee, persist the saga and answer 202; any refusal
        becomes a problem and nothing is written."""
        _currency(currency)
        payee, amount = await resolve()
        payer = await payer_account(self.directory, self.runtime, self.principal, payer_account_id)
        if payee.account_id == payer.id:
            raise PaymentRejected("same-account", "the payer and payee accounts are the same")
        try:
            domain.check_per_payment_limit(amount, payer.kyc_class, self.ctx.saga.policy)
        except PaymentRejected:
            # Refused on accounts' word now, not on a directory entry kept from before an
            # upgrade payments has not heard of yet (the limits screen reads the class fresh).
            payer = await payer_account(self.directory, self.runtime, self.principal, payer_account_id, fresh=True)
            domain.check_per_payment_limit(amount, payer.kyc_class, self.ctx.saga.policy)
        await check_new_device(self.runtime, self.ctx, self.principal, amount, payee.customer_id)
        await self.check_step_up(kind, payer.id, payee, amount, currency)
        draft = handlers.Draft(
            kind=kind,
            customer_id=self.principal.customer_id,
            idempotency_key=self.key,
            payer_account_id=payer.id,
            payer_class=payer.kyc_class,
            payer_label=payer.holder,
            payee_account_id=payee.account_id,
            payee_customer_id=payee.customer_id,
            payee_key=payee.key,
            payee_label=payee.label,
            amount_minor=amount,
            reference=payee.reference,
            note=note,
        )
        payment = await self.starter.start(draft, correlation_id_var.get())
        return Response(
            public(payment).model_dump_json(),
            status_code=202,
            media_type="application/json",
            headers={"location": f"/v1/payments/{payment.id}"},
        )

    async def check_step_up(self, kind: Kind, payer_id: str, payee: Recipient, amount: int, currency: str) -> None:
        """Step-up, decided here after the payment was validated, its payee resolved and its
        limits checked (shared/stepup.py): a payment that needs a one-time code goes ahead
        only with the gateway's approval of exactly it, else 403 `step-up-required` with the
        facts the gateway makes the challenge from. So only a payment that could go through
        costs the customer a code."""
        customer_id = self.principal.customer_id
        is_transfer = kind is Kind.TRANSFER
        reason = await step_up_reason(
            self.ctx, self.runtime, self.policy, customer_id, payee, amount, is_transfer=is_transfer
        )
        if reason is None:
            return
        payment = stepup.Payment(kind.value, payee.key, amount, currency, payer_id)
        required = stepup.Required(payment, reason, self.policy.limit_minor(reason))
        try:
            stepup.check_approval(self.runtime.tokens, self.approval, customer_id, required, self.key)
        except stepup.StepUpMissing:
            # A repeat of a payment this key already made (the gateway's stored answer was
            # lost) is answered with that payment, as any repeat is: it moves nothing new.
            async with self.runtime.db.read() as session:
                if await store.payment_by_key(session, customer_id, self.key) is None:
                    raise


@documents(
    {**NO_TOKEN, **NOT_A_CUSTOMER, **idempotency.INVALID, **UNAVAILABLE},
    parameters=[idempotency.key_parameter(required=True)],
)
async def _payment_deps(
    request: Request,
    approval: Annotated[str | None, Header(alias=stepup.HEADER, include_in_schema=False)] = None,
) -> PaymentDeps:
    """The calling customer (401, 403), the request's Idempotency-Key (400), in that order,
    and what `create_app` keeps in the app's state. One dependency rather than one for each:
    FastAPI solves every dependency on every request, and these were most of the CPU of
    payments' request path. It answers what the dependencies it stands for answered."""
    principal = customer_of(request)
    key = require_key(request)
    state = request.app.state
    # An async factory: FastAPI would run a class dependency's __init__ in its thread pool.
    return PaymentDeps(principal, key, state.ctx, state.runtime, state.accounts, state.starter, state.lookups, approval)


Pay = Annotated[PaymentDeps, Depends(_payment_deps)]
# The routes each payment's request crosses: their plain requests take shared/lean.py's path.
LEAN = ("create_transfer", "create_bill_payment", "create_qr_payment", "create_topup")
POSTED: dict[str, Any] = {
    "status_code": 202,
    "response_model": PaymentPublic,
    "responses": {403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
}


@router.post("/payments/transfers", **{**POSTED, "responses": POSTED["responses"] | LOOKUPS_SPENT})
async def create_transfer(body: TransferCreate, deps: Pay) -> Response:
    """Send money to another account, by account id or by the payee's registered phone. A
    payee named by phone is shown by their masked name and that number, never by the
    account the number pays into. A payee the customer has not paid, looked up or saved
    before (or no customer at all) spends one of their payee look-ups, as
    `GET /v1/payees/lookup` does: past the allowance the answer is 429 with Retry-After."""

    async def resolve() -> tuple[Recipient, int]:
        amount = domain.minor_from_decimal(body.amount)
        customer_id = deps.principal.customer_id
        return await named_payee(deps.ctx, deps.runtime, deps.lookups, deps.directory, customer_id, body), amount

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
        key = payees.biller_payee(biller.code, body.bill_reference)
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
        payee = Recipient(
            merchant.settlement_account_id, None, payees.merchant_payee(merchant.id), merchant.name, qr.reference
        )
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
        return Recipient(
            domain.TOPUP_SETTLEMENT, None, payees.mobile_payee(phone), f"Mobile top-up {phone}", phone
        ), amount

    return await deps.pay(Kind.TOPUP, body.payer_account_id, body.currency, resolve)


@router.get("/payments", response_model=PaymentPage)
async def list_payments(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    page: SmallPageDep,
    direction: Annotated[PaymentDirection | None, Query(description=DIRECTION_QUERY_DOC)] = None,
    status: Annotated[PaymentStatusName | None, Query()] = None,
    kind: Annotated[PaymentKindName | None, Query()] = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> PaymentPage:
    """The customer's payments, newest first: the ones they made, in any status, and the
    completed transfers paid to them (`direction: incoming`, without the payer's account);
    `status`, `kind` and the bank days `from`..`to` (Beijing time, on the sandbox clock, both
    included) narrow the list."""
    table = store.payment_table
    query = select(table).where(visible_to(principal.customer_id, direction))
    query = query.where(*store.payment_filters(status, kind, *bank_days(from_, to)))
    async with runtime.db.read() as session:
        found = (
            (await session.execute(newest_first(query, table.c, page.cursor, page.limit, of="payments")))
            .mappings()
            .all()
        )
    rows = [store.payment_of(r) for r in found]
    return PaymentPage(
        items=[public(p, principal.customer_id) for p in rows[: page.limit]],
        next_cursor=next_keyset(rows, page.limit, of="payments"),
    )


@router.get("/payments/{payment_id}", response_model=PaymentPublic, responses={404: PROBLEM})
async def get_payment(payment_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> PaymentPublic:
    """One payment with its status, stage and (if failed) the reason. The payee of a
    completed transfer opens it too (the id a `payment_received` notification names), in
    its incoming view: who paid by masked name and their note, not the payer's account."""
    async with runtime.db.read() as session:
        payment = await store.payment_by_id(session, payment_id)
    if payment is None:
        raise not_found("payment", payment_id)
    mine = payment.customer_id == principal.customer_id
    paid_to_me = payment.payee_customer_id == principal.customer_id and payment.outcome == COMPLETED
    if not (mine or paid_to_me):
        raise not_found("payment", payment_id)
    return public(payment, principal.customer_id)


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
            MerchantPublic(id=m.id, name=m.name, city=m.city, qr_example=payees.qr_payload(m.id, "12.50"))
            for m in domain.MERCHANTS.values()
        ]
    )


@router.get("/admin/payments/summary", response_model=PaymentsSummary, tags=["operator"])
async def summary(_operator: Operator, runtime: RuntimeDep, ctx: ContextDep) -> PaymentsSummary:
    """Payments by stage, and how old the oldest unfinished saga is (operators)."""
    stage = func.coalesce(store.Payment.outcome, store.Payment.step)
    async with runtime.db.read() as session:
        counts = {
            domain.STAGES.get(name, name): int(n)
            for name, n in (await session.execute(select(stage, func.count()).group_by(stage))).all()
        }
        oldest = await session.scalar(select(func.min(store.Payment.created_at)).where(store.Payment.outcome.is_(None)))
    non_terminal = sum(n for name, n in counts.items() if name not in (COMPLETED, FAILED))
    age = None
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=ctx.clock.now().tzinfo)
        age = (ctx.clock.now() - oldest).total_seconds()
    return PaymentsSummary(by_stage=counts, non_terminal=non_terminal, oldest_non_terminal_s=age)


# --- sandbox deposits ---------------------------------------------------------------------

sandbox = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


@documents({404: "sandbox controls are off: the stack is not in sandbox mode"})
async def _sandbox_only(runtime: RuntimeDep) -> None:
    if not runtime.settings.sandbox:
        raise Problem(404, "not-found", "sandbox controls are off: the stack is not in sandbox mode")


def deposit_public(d: store.Deposit) -> DepositPublic:
    return DepositPublic(
        id=d.id,
        account_id=d.account_id,
        amount=format_minor(d.amount_minor, d.currency),
        amount_minor=d.amount_minor,
        currency=d.currency,
        status=domain.public_status(d),  # type: ignore[arg-type]
        reason=d.reason,
        detail=d.detail,
        created_at=d.created_at,
        links={"self": f"/v1/sandbox/deposits/{d.id}", "account": f"/v1/accounts/{d.account_id}"},
    )


@sandbox.post(
    "/deposits",
    status_code=202,
    response_model=DepositPublic,
    dependencies=[Depends(_sandbox_only)],
    responses={404: PROBLEM, 422: PROBLEM},
)
async def create_deposit(
    body: DepositCreate,
    principal: CurrentCustomer,
    key: OptionalIdempotencyKey,
    runtime: RuntimeDep,
    ctx: ContextDep,
    directory: AccountsDep,
) -> Response:
    """Fund one of your accounts from the sandbox's external cash-in account: a saga of
    one `accounts.CreditAccount`, answered 202 pending; it completes (or fails, e.g. above
    a class III balance cap) when accounts replies."""
    if body.currency != "CNY":
        raise Problem(422, "unsupported-currency", f"currency {body.currency!r} is not supported; use CNY")
    try:
        amount_minor = to_minor(body.amount, body.currency)
    except InvalidAmount as exc:
        raise Problem(422, "invalid-amount", str(exc)) from None
    account = await directory.account(body.account_id)
    if account is None or account.customer_id != principal.customer_id:
        raise not_found("account", body.account_id)
    deposit, created = await create_once(
        runtime,
        partial(
            handlers.request_deposit,
            ctx,
            customer_id=principal.customer_id,
            account_id=account.id,
            amount_minor=amount_minor,
            currency=body.currency,
            key=key,
            correlation_id=correlation_id_var.get(),
        ),
        store.deposit_by_key,
        principal.customer_id,
        key,
    )
    public_deposit = deposit_public(deposit)
    return Response(
        public_deposit.model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers={"location": public_deposit.links["self"]} | ({} if created else REPLAYED),
    )


@sandbox.get(
    "/deposits/{deposit_id}",
    response_model=DepositPublic,
    dependencies=[Depends(_sandbox_only)],
    responses={404: PROBLEM},
)
async def get_deposit(deposit_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> DepositPublic:
    """A deposit's status: pending, completed, or failed with the reason."""
    async with runtime.db.read() as session:
        deposit = await session.get(store.Deposit, deposit_id)
    if deposit is None or deposit.customer_id != principal.customer_id:
        raise not_found("deposit", deposit_id)
    return deposit_public(deposit)


# --- who the customer has paid -----------------------------------------------------------------


async def paid_before(ctx: handlers.Context, runtime: Runtime, customer_id: str, payee_key: str) -> bool:
    """Whether the customer has completed a payment to this payee (remembered once true)."""
    if (customer_id, payee_key) in ctx.known_payees:
        return True
    async with runtime.db.read() as session:
        found = await session.scalar(
            select(store.Payment.id)
            .where(
                store.Payment.customer_id == customer_id,
                store.Payment.payee_key == payee_key,
                store.Payment.outcome == COMPLETED,
            )
            .limit(1)
        )
    if found is None:
        return False
    ctx.known_payees.remember(customer_id, payee_key)
    return True


routers = [router, sandbox]
