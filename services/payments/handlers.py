"""payments use cases: start a payment or a sandbox deposit, and their sagas' reactions
to accounts' facts and to deadlines.

A payment's id is also its hold id, and a deposit's its credit id, so every fact from
accounts finds its saga by primary key. Each reaction loads the saga, asks its decider
(`domain.PaymentSaga`, `domain.DepositSaga`) and carries the decision out: the saga's
new step, the command it sends and the facts it tells, in one unit of work. A fact that
arrives twice, or after the saga moved on, is decided as nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.payments import domain, store
from services.payments.domain import CAPTURE, CREDIT, PAY, RELEASE, RESERVE, Kind, Reason
from shared.clock import Clock
from shared.events import Message, new_id
from shared.events import accounts as acc
from shared.events import payments as ev
from shared.kafka.consumer import Handler, bind_handlers
from shared.kafka.messaging import UnitOfWork
from shared.observability import correlation_id_var
from shared.saga.model import COMPLETED, FAILED, Decision, advance, begin
from shared.saga.store import audit_saga, correlated
from shared.schemas.statements import LineKind, ReferenceKind

log = logging.getLogger(__name__)

CASH_IN = "internal:cash-in"


@dataclass
class Context:
    clock: Clock = field(default_factory=Clock)
    saga: domain.PaymentSaga = field(default_factory=domain.PaymentSaga)
    deposits: domain.DepositSaga = field(default_factory=domain.DepositSaga)
    known_payees: store.KnownPayees = field(default_factory=store.KnownPayees)
    # Payees the customer has been shown by a look-up, a saved payee or a payment in any
    # outcome: paying them again spends no payee look-up (api.named_payee).
    met_payees: store.KnownPayees = field(default_factory=store.KnownPayees)

    def batch(self, uow: UnitOfWork) -> store.SagaBatch:
        """The working set of one transaction of accounts' facts."""
        return store.SagaBatch(uow, policy=self.saga.policy, known=self.known_payees)


@dataclass(frozen=True)
class Draft:
    """A validated payment request: payer and payee resolved, amount in fen."""

    kind: Kind
    customer_id: str
    idempotency_key: str
    payer_account_id: str
    payer_class: str | None
    payee_account_id: str
    payee_customer_id: str | None
    payee_key: str
    payee_label: str
    amount_minor: int
    currency: str = "CNY"
    reference: str = ""
    note: str = ""
    payer_label: str = ""


# --- commands a payment sends ------------------------------------------------------------


def _reserve(p: domain.Payment) -> acc.ReserveFunds:
    return acc.ReserveFunds(
        account_id=p.payer_account_id,
        hold_id=p.id,
        amount_minor=p.amount_minor,
        currency=p.currency,
        reference=f"payment {p.kind} {p.id}",
        # Moving money between one's own accounts is not a payment out.
        counts_toward_limit=p.payee_customer_id != p.customer_id,
    )


def statement_text(p: domain.Payment) -> acc.StatementText:
    """How the payment reads on the payer's statement (debit) and the payee's (credit)."""
    note = f": {p.note}" if p.note else ""
    payer = p.payer_label or "a Sandbank customer"
    kind = Kind(p.kind)
    if kind is Kind.TRANSFER:
        debit = (LineKind.TRANSFER_OUT, f"Transfer to {p.payee_label}{note}")
        credit = (LineKind.TRANSFER_IN, f"Transfer from {payer}{note}")
    elif kind is Kind.BILL:
        debit = (LineKind.BILL, f"Bill: {p.payee_label}, ref {p.reference}")
        credit = (LineKind.BILL, f"Bill paid by {payer}, ref {p.reference}")
    elif kind is Kind.QR:
        ref = f", ref {p.reference}" if p.reference else ""
        debit = (LineKind.QR_PAYMENT, f"QR payment: {p.payee_label}{ref}")
        credit = (LineKind.QR_PAYMENT, f"QR payment from {payer}{ref}")
    else:
        debit = (LineKind.TOPUP, p.payee_label)  # "Mobile top-up +8613912345678"
        credit = (LineKind.TOPUP, f"{p.payee_label} by {payer}")
    return acc.StatementText(
        reference_kind=ReferenceKind.PAYMENT,
        reference_id=p.id,
        debit_kind=debit[0],
        debit_description=debit[1][:200],
        credit_kind=credit[0],
        credit_description=credit[1][:200],
    )


def _pay(p: domain.Payment) -> acc.ReserveFunds:
    """The reservation with its capture: one command, one transaction of accounts."""
    return _reserve(p).model_copy(update={"target_account_id": p.payee_account_id, "statement": statement_text(p)})


def _capture(p: domain.Payment) -> acc.CaptureHold:
    text = statement_text(p)
    return acc.CaptureHold(
        account_id=p.payer_account_id,
        hold_id=p.id,
        target_account_id=p.payee_account_id,
        # For an accounts still on version 1, which posts this one text on both sides.
        description=text.debit_description,
        statement=text,
    )


def _release(p: domain.Payment) -> acc.ReleaseHold:
    return acc.ReleaseHold(account_id=p.payer_account_id, hold_id=p.id)


PAYMENT_COMMANDS: dict[str, Callable[[domain.Payment], Message]] = {
    PAY: _pay,
    RESERVE: _reserve,
    CAPTURE: _capture,
    RELEASE: _release,
}


def _credit(d: store.Deposit) -> acc.CreditAccount:
    return acc.CreditAccount(
        account_id=d.account_id,
        credit_id=d.id,
        source_account_id=CASH_IN,
        amount_minor=d.amount_minor,
        currency=d.currency,
        description="Sandbox deposit",
        statement=acc.StatementText(
            reference_kind=ReferenceKind.DEPOSIT,
            reference_id=d.id,
            debit_kind=LineKind.DEPOSIT,
            debit_description=f"Sandbox deposit to {d.account_id}",
            credit_kind=LineKind.DEPOSIT,
            credit_description="Sandbox deposit",
        ),
    )


# --- starting a payment --------------------------------------------------------------------


def new_payment(ctx: Context, draft: Draft, correlation_id: str | None) -> domain.Payment:
    """The saga's first row, not yet written nor started: `begin_payments` gives it its
    first step when its group is written."""
    now = ctx.clock.now()
    payment = domain.Payment(
        id=new_id(),
        kind=draft.kind,
        step=None,
        attempts=0,
        deadline_at=None,
        customer_id=draft.customer_id,
        idempotency_key=draft.idempotency_key,
        payer_account_id=draft.payer_account_id,
        payer_class=draft.payer_class,
        payee_account_id=draft.payee_account_id,
        payee_customer_id=draft.payee_customer_id,
        payee_key=draft.payee_key,
        payee_label=draft.payee_label,
        reference=draft.reference,
        note=draft.note,
        payer_label=draft.payer_label,
        amount_minor=draft.amount_minor,
        currency=draft.currency,
        correlation_id=correlation_id,
        created_at=now,
        updated_at=now,
    )
    return payment


async def begin_payments(ctx: Context, uow: UnitOfWork, payments: Sequence[domain.Payment]) -> None:
    """Put new payments at their first step, as risk decides on what the request and the
    payer's recent payments show (`PaymentSaga.first_step`): the payer's payments within
    the velocity window as committed, and those of this group made before each one."""
    payments = [p for p in payments if p.step is None]  # a group written again one by one
    batch = ctx.batch(uow)
    await batch.load_risk(payments)
    earlier: dict[str, list[datetime]] = {}
    for p in payments:
        risk = batch.risk[p.id]
        since = p.created_at - ctx.saga.policy.velocity_window
        mine = earlier.setdefault(p.customer_id, [])
        step = ctx.saga.first_step(p, _risk_context(ctx, p, risk, sum(1 for t in mine if since <= t < p.created_at)))
        mine.append(p.created_at)
        begin(p, step, p.created_at, ctx.saga.timeouts)  # its command goes out with the row (_add_requested)


def _risk_context(ctx: Context, p: domain.Payment, risk: store.RiskInputs, in_group: int = 0) -> domain.RiskContext:
    return domain.RiskContext(
        kind=Kind(p.kind),
        amount_minor=p.amount_minor,
        payer_class=p.payer_class,
        recent_payments=risk.recent_payments + in_group,
        # Known since the load too: a payment to this payee completed earlier in the batch.
        payee_known=risk.paid_before
        or (p.customer_id, p.payee_key) in ctx.known_payees
        or p.payee_customer_id == p.customer_id,
    )


def _add_requested(uow: UnitOfWork, payment: domain.Payment) -> None:
    """Stage the row, its `PaymentRequested` fact and the reservation command, each
    carrying the correlation id of the request that started the payment; all are written
    when the unit of work commits."""
    uow.stage(store.INSERT, store.row_of(payment))
    audit_saga(uow, payment, ended=False)
    # A contextvar token, not `correlated`: this runs once per payment on the request path.
    token = correlation_id_var.set(payment.correlation_id)
    try:
        uow.publish(
            ev.PaymentRequested(
                payment_id=payment.id,
                customer_id=payment.customer_id,
                kind=payment.kind,
                payer_account_id=payment.payer_account_id,
                payee_account_id=payment.payee_account_id,
                payee_label=payment.payee_label,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
            )
        )
        if payment.step is None:
            raise ValueError(f"payment {payment.id} was not begun (begin_payments)")
        uow.publish(PAYMENT_COMMANDS[payment.step](payment))
    finally:
        correlation_id_var.reset(token)


async def _already_started(
    unit_of_work: Callable[[], UnitOfWork], draft: Draft, refused: IntegrityError
) -> domain.Payment:
    """The payment this idempotency key started, once the unique key refused a repeat
    (no look-up first: a repeat is rare). Any other integrity error stands."""
    async with unit_of_work() as uow:
        existing = await store.payment_by_key(uow.session, draft.customer_id, draft.idempotency_key)
    if existing is None:
        raise refused
    return existing


Pending = tuple[Draft, domain.Payment, "asyncio.Future[domain.Payment]"]


class Starter:
    """Starts payments with group commit: the requests that arrive while one transaction
    is being written go into the next one together.

    Under load most of a request's database cost is per transaction (begin, flush,
    outbox insert, commit), so sharing one among the requests that are ready at the
    same moment divides it; an idle service still writes a lone request at once. A
    group that hits a repeated idempotency key is written again one request at a time,
    so each request gets its own answer. The writer task belongs to the Starter, which
    the runtime closes on stop: what is still pending then fails instead of hanging."""

    def __init__(
        self,
        ctx: Context,
        unit_of_work: Callable[[], UnitOfWork],
        *,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[Any]] = asyncio.create_task,
    ) -> None:
        self.ctx = ctx
        self.unit_of_work = unit_of_work
        # Starts the writer task; the runtime's `own`, so a stop waits for it or cancels it.
        self.spawn = spawn
        self._pending: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.groups = 0
        self.started = 0

    async def start(self, draft: Draft, correlation_id: str | None) -> domain.Payment:
        if self._closed:
            raise RuntimeError("payments is stopping")
        future: asyncio.Future[domain.Payment] = asyncio.get_running_loop().create_future()
        self._pending.append((draft, new_payment(self.ctx, draft, correlation_id), future))
        if self._writer is None:
            # Runs once the requests already in the event loop's ready queue have queued too.
            self._writer = self.spawn(self._write())
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Stop taking requests and fail what is still waiting. The runtime has already
        given the writer (its own task) a step's deadline to finish its group, or cancelled
        it; a group cancelled mid-commit rolled back, and its requests fail here too."""
        self._closed = True
        pending, self._pending = self._pending, []
        for _, _, future in pending:
            if not future.done():
                future.set_exception(RuntimeError("payments stopped before the payment was written"))

    async def _write(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await self._write_group(group)
        finally:
            self._writer = None

    async def _write_group(self, group: list[Pending]) -> None:
        try:
            async with self.unit_of_work() as uow:
                await begin_payments(self.ctx, uow, [payment for _, payment, _ in group])
                for _, payment, _ in group:
                    _add_requested(uow, payment)
        except IntegrityError as refused:
            if len(group) > 1:
                for item in group:
                    await self._write_group([item])
                return
            draft, _, future = group[0]
            try:
                future.set_result(await _already_started(self.unit_of_work, draft, refused))
            except Exception as exc:
                future.set_exception(exc)
            return
        except BaseException as exc:
            for _, _, future in group:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        self.groups += 1
        self.started += len(group)
        for _, payment, future in group:
            future.set_result(payment)


# --- carrying out a payment's decisions -----------------------------------------------------


def _carry_out(ctx: Context, batch: store.SagaBatch, p: domain.Payment, decision: Decision, now: datetime) -> None:
    """Move the payment as decided, send the commands of its new step, tell its end. What
    it publishes carries the correlation id in force: the fact's, which is the payment's
    request's, or the one the sweeper sets from the saga."""
    if decision.ignored:
        return
    for step in advance(p, decision, now, ctx.saga.timeouts):
        batch.uow.publish(PAYMENT_COMMANDS[step](p))
    if decision.outcome is not None:
        audit_saga(batch.uow, p, ended=True)
    if decision.retry:
        batch.uow.publish(
            ev.PaymentStepRetried(payment_id=p.id, customer_id=p.customer_id, stage=domain.stage(p), attempt=p.attempts)
        )
    if decision.outcome == COMPLETED:
        ctx.known_payees.remember(p.customer_id, p.payee_key)
        batch.uow.publish(
            ev.PaymentCompleted(
                payment_id=p.id,
                customer_id=p.customer_id,
                kind=p.kind,
                payer_account_id=p.payer_account_id,
                payee_account_id=p.payee_account_id,
                payee_customer_id=p.payee_customer_id,
                amount_minor=p.amount_minor,
                currency=p.currency,
                entry_id=p.entry_id or "",
            )
        )
    elif decision.outcome == FAILED:
        batch.uow.publish(
            ev.PaymentFailed(
                payment_id=p.id,
                customer_id=p.customer_id,
                kind=p.kind,
                amount_minor=p.amount_minor,
                currency=p.currency,
                reason=p.reason or Reason.PAYEE_UNAVAILABLE,
                detail=p.detail or "",
            )
        )
    batch.moved(p)


async def when_funds_reserved_assess_risk(ctx: Context, batch: store.SagaBatch, msg: acc.FundsReserved) -> None:
    p = await batch.payment(msg.hold_id)
    if p is None or p.step not in (PAY, RESERVE):
        return
    # A payment sent as `PAY` was approved at its request: risk reads nothing more for it.
    risk = _risk_context(ctx, p, await batch.risk_inputs(p)) if p.step == RESERVE else None
    decision, verdict = ctx.saga.on_funds_reserved(p, risk)
    batch.uow.publish(
        ev.PaymentFundsReserved(payment_id=p.id, customer_id=p.customer_id, hold_id=p.id, amount_minor=p.amount_minor)
    )
    if verdict is not None and not verdict.approved:
        batch.uow.publish(
            ev.PaymentRiskRejected(payment_id=p.id, customer_id=p.customer_id, rule=verdict.rule, detail=verdict.detail)
        )
    elif verdict is not None:
        batch.uow.publish(ev.PaymentRiskApproved(payment_id=p.id, customer_id=p.customer_id))
    _carry_out(ctx, batch, p, decision, ctx.clock.now())


async def when_reservation_rejected_fail_payment(
    ctx: Context, batch: store.SagaBatch, msg: acc.ReservationRejected
) -> None:
    if (p := await batch.payment(msg.hold_id)) is not None:
        _carry_out(ctx, batch, p, ctx.saga.on_reservation_rejected(p, msg.reason, msg.detail), ctx.clock.now())


async def when_hold_captured_complete_payment(ctx: Context, batch: store.SagaBatch, msg: acc.HoldCaptured) -> None:
    if (p := await batch.payment(msg.hold_id)) is not None:
        decision = ctx.saga.on_hold_captured(p)
        if decision.outcome == COMPLETED:
            # A release sent after the capture landed set why it was failing: it did not fail.
            p.entry_id, p.reason, p.detail = msg.entry_id, None, None
        _carry_out(ctx, batch, p, decision, ctx.clock.now())


async def when_capture_rejected_release_hold(ctx: Context, batch: store.SagaBatch, msg: acc.CaptureRejected) -> None:
    if (p := await batch.payment(msg.hold_id)) is not None:
        _carry_out(ctx, batch, p, ctx.saga.on_capture_rejected(p, msg.detail), ctx.clock.now())


async def when_hold_released_fail_payment(ctx: Context, batch: store.SagaBatch, msg: acc.HoldReleased) -> None:
    if (p := await batch.payment(msg.hold_id)) is not None:
        _carry_out(ctx, batch, p, ctx.saga.on_hold_released(p), ctx.clock.now())


async def payments_overdue(ctx: Context, uow: UnitOfWork, ids: Sequence[str], now: datetime) -> None:
    """The sweeper's hand-off: each payment still past its deadline re-sends its step,
    or gives up as its decider says."""
    batch = ctx.batch(uow)
    for payment_id in ids:
        p = await batch.payment(payment_id)
        if p is None or p.deadline_at is None or p.deadline_at >= now:
            continue  # a fact moved it since the sweeper looked
        decision = ctx.saga.on_deadline(p)
        if decision.step == RELEASE:
            log.warning("payment %s: no answer to the reservation after %d tries; releasing", p.id, p.attempts)
        # Outside any request: what is sent again carries the request that started the saga.
        with correlated(p.correlation_id):
            _carry_out(ctx, batch, p, decision, now)
    await batch.write()


# --- sandbox deposits ---------------------------------------------------------------------


async def request_deposit(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    account_id: str,
    amount_minor: int,
    currency: str,
    key: str | None,
    correlation_id: str | None,
) -> tuple[store.Deposit, bool]:
    """Fund a customer's account from the sandbox's cash-in account: persist the saga and
    send its credit, in one transaction. Returns the deposit and whether it is new (False:
    this Idempotency-Key made it before)."""
    if key is not None and (existing := await store.deposit_by_key(uow.session, customer_id, key)) is not None:
        return existing, False
    now = ctx.clock.now()
    deposit = store.Deposit(
        id=str(uuid.uuid4()),
        kind="deposit",
        step=None,
        attempts=0,
        deadline_at=None,
        customer_id=customer_id,
        idempotency_key=key,
        account_id=account_id,
        amount_minor=amount_minor,
        currency=currency,
        correlation_id=correlation_id,
        created_at=now,
        updated_at=now,
    )
    first = begin(deposit, CREDIT, now, ctx.deposits.timeouts)
    uow.session.add(deposit)
    await uow.session.flush()
    audit_saga(uow, deposit, ended=False)
    for _ in first:
        uow.publish(_credit(deposit))
    return deposit, True


def _carry_out_deposit(ctx: Context, uow: UnitOfWork, d: store.Deposit, decision: Decision, now: datetime) -> None:
    for _ in advance(d, decision, now, ctx.deposits.timeouts):
        uow.publish(_credit(d))
    if decision.outcome is not None:
        audit_saga(uow, d, ended=True)


async def _deposit(uow: UnitOfWork, credit_id: str) -> store.Deposit | None:
    found = await store.deposits_for_update(uow.session, [credit_id])
    return found[0] if found else None


async def when_account_credited_complete_deposit(
    ctx: Context, batch: store.SagaBatch, msg: acc.AccountCredited
) -> None:
    if (d := await _deposit(batch.uow, msg.credit_id)) is not None:
        _carry_out_deposit(ctx, batch.uow, d, ctx.deposits.on_credited(d), ctx.clock.now())


async def when_credit_rejected_fail_deposit(ctx: Context, batch: store.SagaBatch, msg: acc.CreditRejected) -> None:
    if (d := await _deposit(batch.uow, msg.credit_id)) is not None:
        decision = ctx.deposits.on_credit_rejected(d, msg.reason, msg.detail)
        _carry_out_deposit(ctx, batch.uow, d, decision, ctx.clock.now())


async def deposits_overdue(ctx: Context, uow: UnitOfWork, ids: Sequence[str], now: datetime) -> None:
    for d in await store.deposits_for_update(uow.session, ids):
        if d.deadline_at is not None and d.deadline_at < now:
            with correlated(d.correlation_id):
                _carry_out_deposit(ctx, uow, d, ctx.deposits.on_deadline(d), now)


async def when_kyc_decided_note_payer_class(
    ctx: Context, batch: store.SagaBatch, msg: acc.KycApplicationDecided
) -> None:
    """Keep the customer's class for the per-payment limit: an approval applies to their
    next payment without payments asking accounts on every one."""
    await store.note_payer_class(batch.uow.session, msg.customer_id, msg.kyc_class, ctx.clock.now())


def event_handlers(ctx: Context) -> dict[str, Handler]:
    return bind_handlers(
        ctx,
        {
            acc.FundsReserved: when_funds_reserved_assess_risk,
            acc.ReservationRejected: when_reservation_rejected_fail_payment,
            acc.HoldCaptured: when_hold_captured_complete_payment,
            acc.CaptureRejected: when_capture_rejected_release_hold,
            acc.HoldReleased: when_hold_released_fail_payment,
            acc.AccountCredited: when_account_credited_complete_deposit,
            acc.CreditRejected: when_credit_rejected_fail_deposit,
            acc.KycApplicationDecided: when_kyc_decided_note_payer_class,
        },
    )
