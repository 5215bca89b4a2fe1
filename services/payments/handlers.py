"""payments use cases: start a payment, and the saga's reactions to accounts' facts.

A payment's id is also its hold id, so every fact from accounts finds its saga by
primary key. Each reaction checks the saga's stage first: a fact that arrives twice,
or after the saga moved on, changes nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import domain, store
from services.payments.domain import Kind, Reason, Stage
from shared.clock import Clock
from shared.db import Database
from shared.events import Message
from shared.events import accounts as acc
from shared.events import payments as ev
from shared.kafka.consumer import Handler, bind_handlers
from shared.kafka.messaging import MessagingTables, UnitOfWork
from shared.observability import correlation_id_var

log = logging.getLogger(__name__)


@dataclass
class Context:
    clock: Clock = field(default_factory=Clock)
    policy: domain.RiskPolicy = field(default_factory=domain.RiskPolicy)
    timeouts: domain.Timeouts = field(default_factory=domain.Timeouts)
    # Payees each customer has been paid before: once known, known for good, so a
    # positive answer is kept in memory (bounded) and the database is asked only otherwise.
    known_payees: set[tuple[str, str]] = field(default_factory=set)

    def remember_payee(self, customer_id: str, payee_key: str) -> None:
        if len(self.known_payees) > 100_000:
            self.known_payees.clear()
        self.known_payees.add((customer_id, payee_key))


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


async def find_by_key(session, customer_id: str, key: str) -> store.Payment | None:  # type: ignore[no-untyped-def]
    return await session.scalar(
        select(store.Payment).where(store.Payment.customer_id == customer_id, store.Payment.idempotency_key == key)
    )


def new_payment(ctx: Context, draft: Draft, correlation_id: str | None) -> store.Payment:
    """The saga's first row, not yet written."""
    now = ctx.clock.now()
    return store.Payment(
        id=str(uuid.uuid4()),
        customer_id=draft.customer_id,
        idempotency_key=draft.idempotency_key,
        kind=draft.kind,
        stage=Stage.RESERVING,
        payer_account_id=draft.payer_account_id,
        payer_class=draft.payer_class,
        payee_account_id=draft.payee_account_id,
        payee_customer_id=draft.payee_customer_id,
        payee_key=draft.payee_key,
        payee_label=draft.payee_label,
        reference=draft.reference,
        note=draft.note,
        amount_minor=draft.amount_minor,
        currency=draft.currency,
        attempts=1,
        deadline_at=domain.next_deadline(now, ctx.timeouts, 1),
        correlation_id=correlation_id,
        created_at=now,
        updated_at=now,
    )


def _add_requested(uow: UnitOfWork, payment: store.Payment) -> None:
    """Stage the row, its `PaymentRequested` fact and the reservation command, each
    carrying the correlation id of the request that started the payment; all are written
    when the unit of work commits."""
    uow.stage(store.INSERT, store.row_of(payment))
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
        uow.publish(_reserve(payment))
    finally:
        correlation_id_var.reset(token)


async def request_payment(ctx: Context, uow: UnitOfWork, draft: Draft, correlation_id: str | None) -> store.Payment:
    """Persist the saga and ask accounts to hold the funds, in one transaction."""
    payment = new_payment(ctx, draft, correlation_id)
    _add_requested(uow, payment)
    return payment


async def _already_started(runtime_uow, draft: Draft, refused: IntegrityError) -> store.Payment:  # type: ignore[no-untyped-def]
    """The payment this idempotency key started, once the unique key refused a repeat
    (no look-up first: a repeat is rare). Any other integrity error stands."""
    async with runtime_uow() as uow:
        existing = await find_by_key(uow.session, draft.customer_id, draft.idempotency_key)
    if existing is None:
        raise refused
    return existing


async def start_payment(ctx: Context, runtime_uow, draft: Draft, correlation_id: str | None) -> store.Payment:  # type: ignore[no-untyped-def]
    """Start a payment, or return the one this idempotency key already started."""
    try:
        async with runtime_uow() as uow:
            return await request_payment(ctx, uow, draft, correlation_id)
    except IntegrityError as refused:
        return await _already_started(runtime_uow, draft, refused)


class Starter:
    """Starts payments with group commit: the requests that arrive while one transaction
    is being written go into the next one together.

    Under load most of a request's database cost is per transaction (begin, flush,
    outbox insert, commit), so sharing one among the requests that are ready at the
    same moment divides it; an idle service still writes a lone request at once. A
    group that hits a repeated idempotency key is written again one request at a time,
    so each request gets its own answer."""

    def __init__(self, ctx: Context, runtime_uow) -> None:  # type: ignore[no-untyped-def]
        self.ctx = ctx
        self.runtime_uow = runtime_uow
        self._pending: list[tuple[Draft, store.Payment, asyncio.Future[store.Payment]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.groups = 0
        self.started = 0

    async def start(self, draft: Draft, correlation_id: str | None) -> store.Payment:
        future: asyncio.Future[store.Payment] = asyncio.get_running_loop().create_future()
        self._pending.append((draft, new_payment(self.ctx, draft, correlation_id), future))
        if self._writer is None:
            # Runs once the requests already in the event loop's ready queue have queued too.
            self._writer = asyncio.create_task(self._write())
        return await asyncio.shield(future)

    async def _write(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await self._write_group(group)
        finally:
            self._writer = None

    async def _write_group(self, group: list[tuple[Draft, store.Payment, asyncio.Future[store.Payment]]]) -> None:
        try:
            async with self.runtime_uow() as uow:
                for _, payment, _ in group:
                    _add_requested(uow, payment)
        except IntegrityError as refused:
            if len(group) > 1:
                for item in group:
                    await self._write_group([item])
                return
            draft, _, future = group[0]
            try:
                future.set_result(await _already_started(self.runtime_uow, draft, refused))
            except Exception as exc:
                future.set_exception(exc)
            return
        except Exception as exc:
            for _, _, future in group:
                future.set_exception(exc)
            return
        self.groups += 1
        self.started += len(group)
        for _, payment, future in group:
            future.set_result(payment)


def _reserve(p: store.Payment) -> acc.ReserveFunds:
    return acc.ReserveFunds(
        account_id=p.payer_account_id,
        hold_id=p.id,
        amount_minor=p.amount_minor,
        currency=p.currency,
        reference=f"payment {p.kind} {p.id}",
        # Moving money between one's own accounts is not a payment out.
        counts_toward_limit=p.payee_customer_id != p.customer_id,
    )


def _capture(p: store.Payment) -> acc.CaptureHold:
    return acc.CaptureHold(
        account_id=p.payer_account_id,
        hold_id=p.id,
        target_account_id=p.payee_account_id,
        description=f"{p.kind} to {p.payee_label}"[:200] + (f": {p.note}" if p.note else ""),
    )


def _release(p: store.Payment) -> acc.ReleaseHold:
    return acc.ReleaseHold(account_id=p.payer_account_id, hold_id=p.id)


def _move(ctx: Context, p: store.Payment, stage: Stage, now: datetime) -> None:
    p.stage = stage
    p.updated_at = now
    if stage in domain.TERMINAL:
        p.deadline_at = None
        p.completed_at = now
    else:
        p.attempts = 1
        p.deadline_at = domain.next_deadline(now, ctx.timeouts, 1)


def _fail_by_release(ctx: Context, uow: UnitOfWork, p: store.Payment, reason: Reason, detail: str) -> None:
    p.reason, p.detail = reason, detail[:300]
    _move(ctx, p, Stage.RELEASING, ctx.clock.now())
    uow.publish(_release(p))


def _failed(uow: UnitOfWork, p: store.Payment) -> None:
    uow.publish(
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


def prefetcher(ctx: Context) -> Callable[[UnitOfWork, list[Message]], Awaitable[None]]:
    """The consumer's batch prefetch, bound to the risk policy's velocity window."""

    async def prefetch(uow: UnitOfWork, facts: list[Message]) -> None:
        await load_batch(ctx, uow, facts)

    return prefetch


async def load_batch(ctx: Context, uow: UnitOfWork, facts: list[Message]) -> None:
    """Load (and lock, on PostgreSQL) the sagas a batch of accounts' facts concerns, and
    what their risk decisions read, in a few queries; most facts on accounts.events are
    other services' holds and need none."""
    hold_ids = {m.hold_id for m in facts if hasattr(m, "hold_id")}
    if not hold_ids:
        return
    session = uow.session
    by_id = await store.load_sagas(session, hold_ids)
    session.info.setdefault("sagas", {}).update({h: by_id.get(h) for h in hold_ids})
    assessing = [
        by_id[m.hold_id]
        for m in facts
        if isinstance(m, acc.FundsReserved) and m.hold_id in by_id and by_id[m.hold_id].stage == Stage.RESERVING
    ]
    await _load_risk_inputs(ctx, session, assessing)


@dataclass(frozen=True)
class RiskInputs:
    recent_payments: int  # the payer's payments within the velocity window before this one
    paid_before: bool  # a completed payment to this payee, as committed before the batch


async def _load_risk_inputs(ctx: Context, session: AsyncSession, assessing: list[store.Payment]) -> None:
    """What the risk rules read for the sagas being assessed, in two queries for all of
    them, kept in `session.info["risk"]` by payment id."""
    if not assessing:
        return
    customers = sorted({p.customer_id for p in assessing})
    since = min(p.created_at for p in assessing) - ctx.policy.velocity_window
    until = max(p.created_at for p in assessing)
    created: dict[str, list[datetime]] = {c: [] for c in customers}
    paid_before: set[tuple[str, str]] = set()
    with session.no_autoflush:
        for customer_id, created_at in (
            await session.execute(
                select(store.Payment.customer_id, store.Payment.created_at).where(
                    store.Payment.customer_id.in_(customers),
                    store.Payment.created_at >= since,
                    store.Payment.created_at <= until,
                )
            )
        ).all():
            created[customer_id].append(created_at)
        # Payees paid before: only the pairs not already known in memory.
        unknown = {(p.customer_id, p.payee_key) for p in assessing} - ctx.known_payees
        if unknown:
            paid_before = set(
                (
                    await session.execute(
                        select(store.Payment.customer_id, store.Payment.payee_key)
                        .where(
                            tuple_(store.Payment.customer_id, store.Payment.payee_key).in_(sorted(unknown)),
                            store.Payment.stage == Stage.COMPLETED,
                        )
                        .distinct()
                    )
                ).all()
            )
    for pair in paid_before:
        ctx.remember_payee(*pair)
    risk = session.info.setdefault("risk", {})
    for p in assessing:
        times = sorted(created[p.customer_id])
        risk[p.id] = RiskInputs(
            recent_payments=bisect.bisect_left(times, p.created_at)
            - bisect.bisect_left(times, p.created_at - ctx.policy.velocity_window),
            paid_before=(p.customer_id, p.payee_key) in paid_before or (p.customer_id, p.payee_key) in ctx.known_payees,
        )


async def _saga(uow: UnitOfWork, hold_id: str, *stages: Stage) -> store.Payment | None:
    """The saga a fact concerns, if it is at one of `stages`; what the handler then changes
    is written back when the batch commits."""
    info = uow.session.info
    sagas = info.setdefault("sagas", {})
    if hold_id not in sagas:
        # Locked (PostgreSQL) so the timeout sweeper and a late fact never both move it.
        sagas[hold_id] = (await store.load_sagas(uow.session, {hold_id})).get(hold_id)
    payment = sagas[hold_id]
    if payment is None or payment.stage not in stages:
        return None  # another service's hold, or a fact this saga has already moved past
    moved = info.setdefault("moved", set())
    if hold_id not in moved:
        moved.add(hold_id)
        uow.before_commit.append(lambda: uow.stage(store.UPDATE, store.changes_of(payment)))
    return payment


async def when_funds_reserved_assess_risk(ctx: Context, uow: UnitOfWork, msg: acc.FundsReserved) -> None:
    p = await _saga(uow, msg.hold_id, Stage.RESERVING)
    if p is None:
        return
    if p.id not in uow.session.info.get("risk", {}):  # a fact applied outside a batch's prefetch
        await _load_risk_inputs(ctx, uow.session, [p])
    risk: RiskInputs = uow.session.info["risk"][p.id]
    now = ctx.clock.now()
    uow.publish(
        ev.PaymentFundsReserved(payment_id=p.id, customer_id=p.customer_id, hold_id=p.id, amount_minor=p.amount_minor)
    )
    decision = domain.assess(
        domain.RiskContext(
            kind=Kind(p.kind),
            amount_minor=p.amount_minor,
            payer_class=p.payer_class,
            recent_payments=risk.recent_payments,
            # Known since the prefetch too: a payment to this payee completed earlier in the batch.
            payee_known=risk.paid_before
            or (p.customer_id, p.payee_key) in ctx.known_payees
            or p.payee_customer_id == p.customer_id,
        ),
        ctx.policy,
    )
    if not decision.approved:
        uow.publish(
            ev.PaymentRiskRejected(
                payment_id=p.id, customer_id=p.customer_id, rule=decision.rule, detail=decision.detail
            )
        )
        _fail_by_release(ctx, uow, p, Reason.RISK_REJECTED, decision.detail)
        return
    uow.publish(ev.PaymentRiskApproved(payment_id=p.id, customer_id=p.customer_id))
    if p.kind == Kind.BILL and p.payee_key.startswith(f"biller:{domain.SANDBOX_FAIL_BILLER}:"):
        _fail_by_release(ctx, uow, p, Reason.PAYEE_UNAVAILABLE, "the biller refused the payment (sandbox biller)")
        return
    _move(ctx, p, Stage.CAPTURING, now)
    uow.publish(_capture(p))


async def when_reservation_rejected_fail_payment(ctx: Context, uow: UnitOfWork, msg: acc.ReservationRejected) -> None:
    p = await _saga(uow, msg.hold_id, Stage.RESERVING, Stage.RELEASING)
    if p is None:
        return
    if p.stage == Stage.RESERVING:
        p.reason = domain.ACCOUNTS_REASONS.get(msg.reason, Reason.PAYER_UNAVAILABLE)
        p.detail = msg.detail[:300]
    _move(ctx, p, Stage.FAILED, ctx.clock.now())
    _failed(uow, p)


async def when_hold_captured_complete_payment(ctx: Context, uow: UnitOfWork, msg: acc.HoldCaptured) -> None:
    p = await _saga(uow, msg.hold_id, Stage.CAPTURING)
    if p is None:
        return
    p.entry_id = msg.entry_id
    _move(ctx, p, Stage.COMPLETED, ctx.clock.now())
    ctx.remember_payee(p.customer_id, p.payee_key)
    uow.publish(
        ev.PaymentCompleted(
            payment_id=p.id,
            customer_id=p.customer_id,
            kind=p.kind,
            payer_account_id=p.payer_account_id,
            payee_account_id=p.payee_account_id,
            payee_customer_id=p.payee_customer_id,
            amount_minor=p.amount_minor,
            currency=p.currency,
            entry_id=msg.entry_id,
        )
    )


async def when_capture_rejected_release_hold(ctx: Context, uow: UnitOfWork, msg: acc.CaptureRejected) -> None:
    p = await _saga(uow, msg.hold_id, Stage.CAPTURING)
    if p is None:
        return
    _fail_by_release(ctx, uow, p, Reason.PAYEE_UNAVAILABLE, msg.detail or "the payee cannot receive this payment")


async def when_hold_released_fail_payment(ctx: Context, uow: UnitOfWork, msg: acc.HoldReleased) -> None:
    p = await _saga(uow, msg.hold_id, Stage.RELEASING)
    if p is None:
        return
    _move(ctx, p, Stage.FAILED, ctx.clock.now())
    _failed(uow, p)


def event_handlers(ctx: Context) -> dict[str, Handler]:
    return bind_handlers(
        ctx,
        {
            acc.FundsReserved: when_funds_reserved_assess_risk,
            acc.ReservationRejected: when_reservation_rejected_fail_payment,
            acc.HoldCaptured: when_hold_captured_complete_payment,
            acc.CaptureRejected: when_capture_rejected_release_hold,
            acc.HoldReleased: when_hold_released_fail_payment,
        },
    )


# --- timeouts ------------------------------------------------------------------------------


async def resend_overdue_steps(ctx: Context, db: Database, tables: MessagingTables, *, limit: int = 200) -> int:
    """Re-send the pending step of every saga past its deadline; give up reserving
    after a bounded number of tries (releasing whatever may have been held)."""
    now = ctx.clock.now()
    async with UnitOfWork(db, tables, source="payments") as uow:
        overdue = (
            await uow.session.scalars(
                select(store.Payment)
                .where(
                    store.Payment.stage.in_([Stage.RESERVING, Stage.CAPTURING, Stage.RELEASING]),
                    store.Payment.deadline_at < now,
                )
                .order_by(store.Payment.deadline_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for p in overdue:
            # Outside any request: what is re-sent carries the correlation id of the payment's request.
            token = correlation_id_var.set(p.correlation_id)
            try:
                _resend_step(ctx, uow, p, now)
            finally:
                correlation_id_var.reset(token)
    return len(overdue)


def _resend_step(ctx: Context, uow: UnitOfWork, p: store.Payment, now: datetime) -> None:
    if p.stage == Stage.RESERVING and p.attempts >= ctx.timeouts.max_reserve_attempts:
        log.warning("payment %s: no answer to the reservation after %d tries; releasing", p.id, p.attempts)
        _fail_by_release(ctx, uow, p, Reason.TIMED_OUT, "the bank did not answer in time; nothing was paid")
        return
    p.attempts += 1
    p.deadline_at = domain.next_deadline(now, ctx.timeouts, p.attempts)
    p.updated_at = now
    step = {Stage.RESERVING: _reserve, Stage.CAPTURING: _capture, Stage.RELEASING: _release}[Stage(p.stage)]
    uow.publish(step(p))
    uow.publish(ev.PaymentStepRetried(payment_id=p.id, customer_id=p.customer_id, stage=p.stage, attempt=p.attempts))
