"""The payment saga's state machine, without a broker: a real SQLite database, the handlers
called with accounts' facts directly, and the commands they publish read from the unit of work
(or, for the timeout sweeper, from the outbox it writes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.payments import domain, handlers, store
from services.payments.domain import RISK_MAGIC_AMOUNT, Kind, PaymentSaga, Reason, RiskPolicy
from shared.clock import Clock
from shared.db import Database
from shared.events import Envelope, Message
from shared.events import accounts as acc
from shared.events import payments as ev
from shared.kafka.messaging import UnitOfWork
from shared.saga.model import Timeouts
from shared.saga.store import SagaSweeper, SagaTable


class Stage:
    """A payment's stages as the API shows them (`domain.stage`)."""

    PAYING = "paying"
    RESERVING = "reserving_funds"
    CAPTURING = "capturing"
    RELEASING = "releasing"
    COMPLETED = "completed"
    FAILED = "failed"


STEP = timedelta(seconds=5)
MAX_RESERVE_ATTEMPTS = 3
# Past any deadline the backoff can set (four steps).
OVERDUE = STEP * 4 + timedelta(seconds=1)

PAYER, PAYEE = "acct-payer", "acct-payee"
ALICE, BOB = "cust-alice", "cust-bob"

TRANSFER = handlers.Draft(
    kind=Kind.TRANSFER,
    customer_id=ALICE,
    idempotency_key="",
    payer_account_id=PAYER,
    payer_class="I",
    payee_account_id=PAYEE,
    payee_customer_id=BOB,
    payee_key=f"account:{PAYEE}",
    payee_label="B*b",
    amount_minor=100_00,
)
BILL = replace(
    TRANSFER,
    kind=Kind.BILL,
    payee_account_id="internal:biller-settlement",
    payee_customer_id=None,
    payee_key="biller:SH-WATER:3100012345",
    payee_label="Shanghai Water",
    reference="3100012345",
)
SANDBOX_FAIL_BILL = replace(BILL, payee_key="biller:SANDBOX-FAIL:any", payee_label="Sandbox failing biller")
QR = replace(
    BILL,
    kind=Kind.QR,
    payee_account_id="internal:merchant-settlement",
    payee_key="merchant:M100001",
    payee_label="Lanzhou Noodle House",
    reference="T42",
)
TOPUP = replace(
    BILL,
    kind=Kind.TOPUP,
    payee_account_id="internal:topup-settlement",
    payee_key="mobile:+8613912345678",
    payee_label="Mobile top-up +8613912345678",
    reference="+8613912345678",
)

Reaction = Callable[[handlers.Context, UnitOfWork, Any], Awaitable[None]]
REACTIONS: dict[type[Message], Reaction] = {
    acc.FundsReserved: handlers.when_funds_reserved_assess_risk,
    acc.ReservationRejected: handlers.when_reservation_rejected_fail_payment,
    acc.HoldCaptured: handlers.when_hold_captured_complete_payment,
    acc.CaptureRejected: handlers.when_capture_rejected_release_hold,
    acc.HoldReleased: handlers.when_hold_released_fail_payment,
}


# --- accounts' facts about a payment's hold -----------------------------------------------------


def reserved(p: store.Payment) -> acc.FundsReserved:
    return acc.FundsReserved(
        account_id=p.payer_account_id, hold_id=p.id, amount_minor=p.amount_minor, currency="CNY", available_minor=0
    )


def reservation_rejected(p: store.Payment, reason: str = "insufficient_funds") -> acc.ReservationRejected:
    return acc.ReservationRejected(
        account_id=p.payer_account_id,
        hold_id=p.id,
        amount_minor=p.amount_minor,
        currency="CNY",
        reason=reason,  # type: ignore[arg-type]
        detail=f"rejected: {reason}",
    )


def captured(p: store.Payment, entry_id: str = "entry-1") -> acc.HoldCaptured:
    return acc.HoldCaptured(
        account_id=p.payer_account_id,
        hold_id=p.id,
        target_account_id=p.payee_account_id,
        amount_minor=p.amount_minor,
        released_minor=0,
        entry_id=entry_id,
    )


def capture_rejected(p: store.Payment) -> acc.CaptureRejected:
    return acc.CaptureRejected(
        account_id=p.payer_account_id,
        hold_id=p.id,
        target_account_id=p.payee_account_id,
        reason="balance_cap_exceeded",
        detail="class III accounts may hold at most 2000.00 CNY",
    )


def released(p: store.Payment) -> acc.HoldReleased:
    return acc.HoldReleased(account_id=p.payer_account_id, hold_id=p.id, amount_minor=p.amount_minor)


def types(envelopes: list[Envelope]) -> list[str]:
    return [e.type for e in envelopes]


def only(envelopes: list[Envelope], kind: type[Message]) -> Any:
    matching = [e.message() for e in envelopes if e.type == kind.TYPE]
    assert len(matching) == 1, types(envelopes)
    return matching[0]


# --- the bench ------------------------------------------------------------------------------------


@dataclass
class Sagas:
    ctx: handlers.Context
    db: Database

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, store.messaging, source="payments")

    async def start(self, draft: handlers.Draft = TRANSFER, **changes: Any) -> tuple[store.Payment, list[Envelope]]:
        draft = replace(draft, idempotency_key=str(uuid.uuid4()), **changes)
        before = len(await self.outbox())
        payment = await handlers.Starter(self.ctx, self.uow).start(draft, "corr-test")
        return payment, (await self.outbox())[before:]

    async def deliver(self, fact: Message) -> list[Envelope]:
        """Apply one fact from accounts in its own unit of work; what the saga published."""
        async with self.uow() as uow:
            batch = self.ctx.batch(uow)
            await REACTIONS[type(fact)](self.ctx, batch, fact)
            await batch.write()
        return uow.published

    async def get(self, payment_id: str) -> store.Payment:
        async with self.db.read() as session:
            payment = await session.get(store.Payment, payment_id)
        assert payment is not None
        payment.stage = domain.stage(payment)  # type: ignore[attr-defined]
        return payment

    def sweeper(self, limit: int = 200) -> SagaSweeper:
        table = SagaTable(store.Payment, partial(handlers.payments_overdue, self.ctx))
        return SagaSweeper(self.db, self.uow, self.ctx.clock, [table], limit=limit)

    def use_policy(self, policy: RiskPolicy) -> None:
        self.ctx.saga = replace(self.ctx.saga, policy=policy)

    async def outbox(self) -> list[Envelope]:
        outbox = store.messaging.outbox
        async with self.db.read() as session:
            rows = (await session.scalars(select(outbox.c.payload).order_by(outbox.c.id))).all()
        return [Envelope.from_bytes(r) for r in rows]

    async def sweep(self) -> tuple[int, list[Envelope]]:
        """Run the timeout sweeper once; how many sagas it touched and what it wrote to the outbox."""
        before = len(await self.outbox())
        touched = await self.sweeper().sweep()
        return touched, (await self.outbox())[before:]

    async def capturing(self, draft: handlers.Draft = TRANSFER, **changes: Any) -> store.Payment:
        payment, _ = await self.start(draft, **changes)
        assert acc.CaptureHold.TYPE in types(await self.deliver(reserved(payment)))
        return await self.get(payment.id)

    async def completed(self, draft: handlers.Draft = TRANSFER, **changes: Any) -> store.Payment:
        payment = await self.capturing(draft, **changes)
        assert types(await self.deliver(captured(payment))) == [ev.PaymentCompleted.TYPE]
        return await self.get(payment.id)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}")
    await database.create_all(store.Base.metadata)
    yield database
    await database.dispose()


@pytest.fixture
def ctx() -> handlers.Context:
    return handlers.Context(
        clock=Clock(), saga=PaymentSaga(RiskPolicy(), Timeouts(step=STEP, max_attempts=MAX_RESERVE_ATTEMPTS))
    )


@pytest.fixture
def sagas(ctx: handlers.Context, db: Database) -> Sagas:
    return Sagas(ctx, db)


# --- requesting ------------------------------------------------------------------------------------


async def test_an_approved_request_persists_a_paying_saga_and_asks_accounts_to_hold_and_capture(sagas: Sagas) -> None:
    payment, published = await sagas.start(amount_minor=123_45)

    assert types(published) == [ev.PaymentRequested.TYPE, acc.ReserveFunds.TYPE]
    reserve = only(published, acc.ReserveFunds)
    assert (reserve.account_id, reserve.hold_id, reserve.amount_minor, reserve.currency) == (
        PAYER,
        payment.id,
        123_45,
        "CNY",
    )
    assert reserve.target_account_id == PAYEE  # captured with the reservation: one command
    assert reserve.statement is not None and reserve.statement.reference_id == payment.id
    assert reserve.counts_toward_limit is True
    assert published[1].subject == PAYER  # keyed by the payer's account: its commands stay in order
    requested = only(published, ev.PaymentRequested)
    assert (requested.payment_id, requested.kind, requested.payee_account_id) == (payment.id, "transfer", PAYEE)
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.attempts, saved.reason) == (Stage.PAYING, 1, None)
    assert saved.deadline_at == saved.created_at + STEP
    assert saved.correlation_id == "corr-test"


@pytest.mark.parametrize(
    ("draft", "changes"),
    [
        (TRANSFER, {"amount_minor": RISK_MAGIC_AMOUNT}),
        (TRANSFER, {"amount_minor": 5_000_01}),  # a large first payment to a new payee
        (SANDBOX_FAIL_BILL, {}),
    ],
    ids=["magic amount", "new payee threshold", "sandbox failing biller"],
)
async def test_a_request_risk_would_refuse_only_holds_the_funds(
    sagas: Sagas, draft: handlers.Draft, changes: dict[str, Any]
) -> None:
    """Risk decides again once the funds are held, and the hold's release shows the compensation."""
    payment, published = await sagas.start(draft, **changes)

    reserve = only(published, acc.ReserveFunds)
    assert (reserve.hold_id, reserve.target_account_id, reserve.statement) == (payment.id, None, None)
    assert (await sagas.get(payment.id)).stage == Stage.RESERVING


async def test_a_group_counts_its_own_earlier_payments_toward_velocity(sagas: Sagas) -> None:
    sagas.use_policy(RiskPolicy(velocity_max=2, velocity_window=timedelta(seconds=60)))
    starter = handlers.Starter(sagas.ctx, sagas.uow)
    drafts = [replace(TRANSFER, idempotency_key=f"key-{i}") for i in range(3)]
    drafts.append(replace(TRANSFER, idempotency_key="key-bob", customer_id=BOB))

    payments = await asyncio.gather(*(starter.start(d, None) for d in drafts))

    assert starter.groups == 1
    stages = [(await sagas.get(p.id)).stage for p in payments]
    assert stages == [Stage.PAYING, Stage.PAYING, Stage.RESERVING, Stage.PAYING]
    published = await sagas.deliver(reserved(payments[2]))
    assert only(published, ev.PaymentRiskRejected).rule == "velocity"


@pytest.mark.parametrize(
    ("draft", "counts"),
    [
        (TRANSFER, True),
        (replace(TRANSFER, payee_customer_id=ALICE), False),
        (BILL, True),
        (QR, True),
        (TOPUP, True),
    ],
    ids=["to another customer", "between own accounts", "bill", "qr", "topup"],
)
async def test_only_payments_out_of_the_customer_count_toward_the_daily_limit(
    sagas: Sagas, draft: handlers.Draft, counts: bool
) -> None:
    _, published = await sagas.start(draft)
    assert only(published, acc.ReserveFunds).counts_toward_limit is counts


async def test_starting_returns_the_payment_a_key_already_started(sagas: Sagas, db: Database) -> None:
    draft = replace(TRANSFER, idempotency_key="key-1")
    starter = handlers.Starter(sagas.ctx, sagas.uow)

    first = await starter.start(draft, None)
    again = await starter.start(replace(draft, amount_minor=999_00), None)

    assert again.id == first.id
    assert again.amount_minor == draft.amount_minor
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(store.Payment)) == 1
    assert types(await sagas.outbox()) == [ev.PaymentRequested.TYPE, acc.ReserveFunds.TYPE]


async def test_requests_ready_together_share_one_transaction_and_keep_their_own_ids(sagas: Sagas, db: Database) -> None:
    starter = handlers.Starter(sagas.ctx, sagas.uow)
    drafts = [replace(TRANSFER, idempotency_key=f"key-{i}") for i in range(5)]

    payments = await asyncio.gather(*(starter.start(d, f"corr-{i}") for i, d in enumerate(drafts)))

    assert starter.groups == 1 and starter.started == 5
    assert len({p.id for p in payments}) == 5
    outbox = await sagas.outbox()
    assert types(outbox) == [ev.PaymentRequested.TYPE, acc.ReserveFunds.TYPE] * 5
    # Each request's messages carry that request's correlation id, not the first one's.
    assert [e.correlation_id for e in outbox] == [f"corr-{i}" for i in range(5) for _ in range(2)]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(store.Payment)) == 5


async def test_a_repeated_key_in_a_group_answers_both_requests_with_one_payment(sagas: Sagas, db: Database) -> None:
    starter = handlers.Starter(sagas.ctx, sagas.uow)
    other = replace(TRANSFER, idempotency_key="key-other")
    repeated = replace(TRANSFER, idempotency_key="key-same")

    first, again, third = await asyncio.gather(
        starter.start(repeated, "corr-1"), starter.start(repeated, "corr-2"), starter.start(other, "corr-3")
    )

    assert again.id == first.id and third.id != first.id
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(store.Payment)) == 2
    assert types(await sagas.outbox()) == [ev.PaymentRequested.TYPE, acc.ReserveFunds.TYPE] * 2


# --- the completed path ---------------------------------------------------------------------------------


@pytest.mark.parametrize("draft", [TRANSFER, BILL, QR, TOPUP], ids=["transfer", "bill", "qr", "topup"])
async def test_an_approved_payment_is_paid_into_the_payee_with_one_command(sagas: Sagas, draft: handlers.Draft) -> None:
    payment, published = await sagas.start(draft)

    pay = only(published, acc.ReserveFunds)
    assert (pay.account_id, pay.hold_id, pay.target_account_id) == (PAYER, payment.id, draft.payee_account_id)
    assert pay.statement is not None and draft.payee_label in pay.statement.debit_description
    assert types(await sagas.deliver(captured(payment))) == [ev.PaymentCompleted.TYPE]
    assert (await sagas.get(payment.id)).stage == Stage.COMPLETED


@pytest.mark.parametrize("draft", [TRANSFER, BILL, QR, TOPUP], ids=["transfer", "bill", "qr", "topup"])
async def test_a_paying_hold_reserved_but_not_captured_is_captured(sagas: Sagas, draft: handlers.Draft) -> None:
    """An accounts that does not capture with the reservation answers FundsReserved:
    risk approved the payment already, so it is captured without deciding again."""
    payment, _ = await sagas.start(draft)

    published = await sagas.deliver(reserved(payment))

    assert types(published) == [ev.PaymentFundsReserved.TYPE, acc.CaptureHold.TYPE]
    capture = only(published, acc.CaptureHold)
    assert (capture.account_id, capture.hold_id, capture.target_account_id) == (
        PAYER,
        payment.id,
        draft.payee_account_id,
    )
    assert capture.amount_minor is None  # the whole hold
    assert draft.payee_label in capture.description
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.attempts) == (Stage.CAPTURING, 1)
    assert saved.deadline_at == saved.updated_at + STEP


async def test_hold_captured_completes_the_payment(sagas: Sagas) -> None:
    payment = await sagas.capturing()

    published = await sagas.deliver(captured(payment, entry_id="entry-42"))

    completed = only(published, ev.PaymentCompleted)
    assert types(published) == [ev.PaymentCompleted.TYPE]
    assert (completed.payment_id, completed.amount_minor, completed.entry_id) == (payment.id, 100_00, "entry-42")
    assert (completed.payer_account_id, completed.payee_account_id, completed.payee_customer_id) == (PAYER, PAYEE, BOB)
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.entry_id, saved.reason, saved.deadline_at) == (Stage.COMPLETED, "entry-42", None, None)
    assert saved.ended_at is not None


# --- failures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accounts_reason", "reason"),
    [
        ("insufficient_funds", Reason.INSUFFICIENT_FUNDS),
        ("limit_exceeded", Reason.CLASS_LIMIT_EXCEEDED),
        ("hold_not_active", Reason.PAYER_UNAVAILABLE),
    ],
)
async def test_reservation_rejected_fails_with_the_mapped_reason(
    sagas: Sagas, accounts_reason: str, reason: Reason
) -> None:
    payment, _ = await sagas.start()

    published = await sagas.deliver(reservation_rejected(payment, accounts_reason))

    assert types(published) == [ev.PaymentFailed.TYPE]  # nothing was held, so nothing to release
    failed = only(published, ev.PaymentFailed)
    assert (failed.reason, failed.detail) == (reason, f"rejected: {accounts_reason}")
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.reason, saved.deadline_at) == (Stage.FAILED, reason, None)
    assert saved.ended_at is not None


async def test_risk_rejection_releases_the_hold_then_fails(sagas: Sagas) -> None:
    payment, _ = await sagas.start(amount_minor=RISK_MAGIC_AMOUNT)

    published = await sagas.deliver(reserved(payment))

    assert types(published) == [ev.PaymentFundsReserved.TYPE, ev.PaymentRiskRejected.TYPE, acc.ReleaseHold.TYPE]
    assert only(published, ev.PaymentRiskRejected).rule == "sandbox_magic_amount"
    release = only(published, acc.ReleaseHold)
    assert (release.account_id, release.hold_id) == (PAYER, payment.id)
    releasing = await sagas.get(payment.id)
    assert (releasing.stage, releasing.reason) == (Stage.RELEASING, Reason.RISK_REJECTED)

    published = await sagas.deliver(released(payment))

    assert types(published) == [ev.PaymentFailed.TYPE]
    assert only(published, ev.PaymentFailed).reason == Reason.RISK_REJECTED
    assert (await sagas.get(payment.id)).stage == Stage.FAILED


async def test_magic_amount_bill_is_captured(sagas: Sagas) -> None:
    payment, _ = await sagas.start(BILL, amount_minor=RISK_MAGIC_AMOUNT)
    assert acc.CaptureHold.TYPE in types(await sagas.deliver(reserved(payment)))


async def test_sandbox_fail_biller_releases_after_the_hold(sagas: Sagas) -> None:
    payment, _ = await sagas.start(SANDBOX_FAIL_BILL)

    published = await sagas.deliver(reserved(payment))

    assert types(published) == [ev.PaymentFundsReserved.TYPE, ev.PaymentRiskApproved.TYPE, acc.ReleaseHold.TYPE]
    releasing = await sagas.get(payment.id)
    assert (releasing.stage, releasing.reason) == (Stage.RELEASING, Reason.PAYEE_UNAVAILABLE)

    failed = only(await sagas.deliver(released(payment)), ev.PaymentFailed)
    assert (failed.reason, failed.kind) == (Reason.PAYEE_UNAVAILABLE, "bill")
    assert (await sagas.get(payment.id)).stage == Stage.FAILED


async def test_a_reference_that_merely_mentions_the_sandbox_biller_is_captured(sagas: Sagas) -> None:
    payment, _ = await sagas.start(BILL, payee_key="biller:SH-WATER:SANDBOX-FAIL")
    assert acc.CaptureHold.TYPE in types(await sagas.deliver(reserved(payment)))


async def test_capture_rejected_releases_the_hold_then_fails(sagas: Sagas) -> None:
    payment = await sagas.capturing()

    published = await sagas.deliver(capture_rejected(payment))

    assert types(published) == [acc.ReleaseHold.TYPE]
    releasing = await sagas.get(payment.id)
    assert (releasing.stage, releasing.reason) == (Stage.RELEASING, Reason.PAYEE_UNAVAILABLE)
    assert releasing.detail == "class III accounts may hold at most 2000.00 CNY"

    failed = only(await sagas.deliver(released(payment)), ev.PaymentFailed)
    assert (failed.reason, failed.detail) == (Reason.PAYEE_UNAVAILABLE, releasing.detail)
    assert (await sagas.get(payment.id)).stage == Stage.FAILED


# --- risk rules that read the saga table ------------------------------------------------------------


async def test_velocity_counts_the_customers_payments_in_the_window(sagas: Sagas) -> None:
    sagas.use_policy(RiskPolicy(velocity_max=2, velocity_window=timedelta(seconds=60)))
    await sagas.start()
    await sagas.start(BILL)
    await sagas.start(customer_id=BOB)  # another customer's payment does not count
    third, _ = await sagas.start()

    published = await sagas.deliver(reserved(third))

    assert only(published, ev.PaymentRiskRejected).rule == "velocity"
    assert (await sagas.get(third.id)).stage == Stage.RELEASING


async def test_velocity_forgets_payments_older_than_the_window(sagas: Sagas) -> None:
    sagas.use_policy(RiskPolicy(velocity_max=2, velocity_window=timedelta(seconds=60)))
    await sagas.start()
    await sagas.start()
    sagas.ctx.clock.advance(timedelta(seconds=61))
    third, _ = await sagas.start()

    assert acc.CaptureHold.TYPE in types(await sagas.deliver(reserved(third)))


async def test_a_large_first_payment_to_a_new_payee_is_rejected(sagas: Sagas) -> None:
    payment, _ = await sagas.start(amount_minor=5_000_01)

    published = await sagas.deliver(reserved(payment))

    assert only(published, ev.PaymentRiskRejected).rule == "new_payee_threshold"
    assert acc.ReleaseHold.TYPE in types(published)


async def test_a_payee_paid_before_is_known(sagas: Sagas) -> None:
    await sagas.completed(amount_minor=1_00)
    payment, _ = await sagas.start(amount_minor=5_000_01)

    assert acc.CaptureHold.TYPE in types(await sagas.deliver(reserved(payment)))


async def test_a_payee_whose_only_payment_failed_is_still_new(sagas: Sagas) -> None:
    failed, _ = await sagas.start(amount_minor=1_00)
    await sagas.deliver(reservation_rejected(failed))
    payment, _ = await sagas.start(amount_minor=5_000_01)

    assert only(await sagas.deliver(reserved(payment)), ev.PaymentRiskRejected).rule == "new_payee_threshold"


async def test_a_payee_is_known_only_to_the_customer_who_paid_it(sagas: Sagas) -> None:
    await sagas.completed(amount_minor=1_00, customer_id="cust-carol")
    payment, _ = await sagas.start(amount_minor=5_000_01)

    assert only(await sagas.deliver(reserved(payment)), ev.PaymentRiskRejected).rule == "new_payee_threshold"


async def test_the_customers_own_account_is_a_known_payee(sagas: Sagas) -> None:
    payment, _ = await sagas.start(payee_customer_id=ALICE, amount_minor=20_000_00)
    assert acc.CaptureHold.TYPE in types(await sagas.deliver(reserved(payment)))


# --- duplicates and late facts change nothing --------------------------------------------------------


async def _in_stage(sagas: Sagas, stage: str) -> store.Payment:
    if stage == "paying":
        return await sagas.get((await sagas.start())[0].id)
    if stage == "capturing":
        return await sagas.capturing()
    if stage == "completed":
        return await sagas.completed()
    payment, _ = await sagas.start(amount_minor=RISK_MAGIC_AMOUNT)
    await sagas.deliver(reserved(payment))  # risk rejects: releasing
    if stage == "failed":
        await sagas.deliver(released(payment))
    return await sagas.get(payment.id)


FACTS: dict[str, Callable[[store.Payment], Message]] = {
    "FundsReserved": reserved,
    "ReservationRejected": reservation_rejected,
    "HoldCaptured": captured,
    "CaptureRejected": capture_rejected,
    "HoldReleased": released,
}
LATE = [
    ("capturing", "FundsReserved"),
    ("capturing", "ReservationRejected"),
    ("capturing", "HoldReleased"),
    ("paying", "HoldReleased"),
    ("releasing", "FundsReserved"),
    ("releasing", "CaptureRejected"),
    *[("completed", fact) for fact in FACTS],
    *[("failed", fact) for fact in FACTS],
]


@pytest.mark.parametrize(("stage", "fact"), LATE, ids=[f"{s}-{f}" for s, f in LATE])
async def test_a_duplicate_or_late_fact_changes_nothing(sagas: Sagas, stage: str, fact: str) -> None:
    payment = await _in_stage(sagas, stage)

    published = await sagas.deliver(FACTS[fact](payment))

    assert published == []
    after = await sagas.get(payment.id)
    assert (after.stage, after.reason, after.attempts, after.updated_at, after.deadline_at) == (
        payment.stage,
        payment.reason,
        payment.attempts,
        payment.updated_at,
        payment.deadline_at,
    )


@pytest.mark.parametrize("fact", list(FACTS))
async def test_a_fact_about_another_services_hold_is_ignored(sagas: Sagas, fact: str) -> None:
    await sagas.start()
    stranger = store.Payment(  # a hold no payment owns, e.g. a securities order's
        id=f"securities-{uuid.uuid4()}", payer_account_id=PAYER, payee_account_id=PAYEE, amount_minor=1_00
    )

    assert await sagas.deliver(FACTS[fact](stranger)) == []


async def test_the_consumer_routes_each_hold_fact_to_its_reaction(sagas: Sagas) -> None:
    routes = handlers.event_handlers(sagas.ctx)
    assert set(routes) == {kind.TYPE for kind in REACTIONS} | {
        acc.AccountCredited.TYPE,
        acc.CreditRejected.TYPE,
        acc.KycApplicationDecided.TYPE,
    }
    payment, _ = await sagas.start()
    envelope = Envelope.wrap(reserved(payment), source="accounts", correlation_id="corr-route")

    async with UnitOfWork(sagas.db, store.messaging, source="payments", causation=envelope) as uow:
        batch = sagas.ctx.batch(uow)
        await routes[acc.FundsReserved.TYPE](batch, envelope, envelope.message())
        await batch.write()

    capture = next(e for e in uow.published if e.type == acc.CaptureHold.TYPE)
    assert (capture.causation_id, capture.correlation_id) == (envelope.id, "corr-route")
    assert (await sagas.get(payment.id)).stage == Stage.CAPTURING


# --- timeouts -------------------------------------------------------------------------------------


class StillClock(Clock):
    """Time that moves only when the test moves it: a deadline 100 ms away stays 100 ms
    away however slowly a busy machine runs the test."""

    def __init__(self) -> None:
        super().__init__()
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at + self.offset


async def test_no_step_is_resent_before_its_deadline(sagas: Sagas) -> None:
    sagas.ctx.clock = StillClock()
    await sagas.start()
    sagas.ctx.clock.advance(STEP - timedelta(milliseconds=100))

    assert await sagas.sweep() == (0, [])


@pytest.mark.parametrize(
    ("amount", "stage", "target"),
    [(100_00, Stage.PAYING, PAYEE), (RISK_MAGIC_AMOUNT, Stage.RESERVING, None)],
    ids=["paying", "reserving"],
)
async def test_an_overdue_first_step_is_resent_with_backoff(
    sagas: Sagas, amount: int, stage: str, target: str | None
) -> None:
    payment, _ = await sagas.start(amount_minor=amount)
    sagas.ctx.clock.advance(STEP + timedelta(milliseconds=1))

    touched, written = await sagas.sweep()

    assert touched == 1
    assert types(written) == [acc.ReserveFunds.TYPE, ev.PaymentStepRetried.TYPE]
    reserve = only(written, acc.ReserveFunds)
    assert (reserve.hold_id, reserve.amount_minor, reserve.account_id) == (payment.id, amount, PAYER)
    assert reserve.target_account_id == target
    retried = only(written, ev.PaymentStepRetried)
    assert (retried.stage, retried.attempt) == (stage, 2)
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.attempts) == (stage, 2)
    assert saved.deadline_at == saved.updated_at + 2 * STEP
    # Not due again until the longer deadline passes.
    sagas.ctx.clock.advance(STEP + timedelta(milliseconds=1))
    assert await sagas.sweep() == (0, [])


async def test_a_resent_step_carries_the_payments_correlation_id(sagas: Sagas) -> None:
    """The sweeper runs outside any request: the re-sent command still belongs to the customer's request."""
    await sagas.start()  # correlation id "corr-test"
    sagas.ctx.clock.advance(OVERDUE)

    _, written = await sagas.sweep()

    assert {e.correlation_id for e in written} == {"corr-test"}


async def test_a_reservation_resent_then_answered_moves_on(sagas: Sagas) -> None:
    payment, _ = await sagas.start()
    sagas.ctx.clock.advance(OVERDUE)
    await sagas.sweep()

    assert acc.CaptureHold.TYPE in types(await sagas.deliver(reserved(payment)))
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.attempts) == (Stage.CAPTURING, 1)


async def test_a_reservation_gives_up_after_max_attempts_and_releases(sagas: Sagas) -> None:
    payment, _ = await sagas.start()
    for attempt in range(2, MAX_RESERVE_ATTEMPTS + 1):
        sagas.ctx.clock.advance(OVERDUE)
        _, written = await sagas.sweep()
        assert only(written, ev.PaymentStepRetried).attempt == attempt

    sagas.ctx.clock.advance(OVERDUE)
    touched, written = await sagas.sweep()

    assert touched == 1
    assert types(written) == [acc.ReleaseHold.TYPE]  # in case the hold landed unheard
    assert only(written, acc.ReleaseHold).hold_id == payment.id
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.reason) == (Stage.RELEASING, Reason.TIMED_OUT)

    failed = only(await sagas.deliver(released(payment)), ev.PaymentFailed)
    assert failed.reason == Reason.TIMED_OUT
    assert (await sagas.get(payment.id)).stage == Stage.FAILED


async def _given_up(sagas: Sagas) -> store.Payment:
    payment, _ = await sagas.start()
    for _ in range(MAX_RESERVE_ATTEMPTS):
        sagas.ctx.clock.advance(OVERDUE)
        await sagas.sweep()
    saved = await sagas.get(payment.id)
    assert saved.stage == Stage.RELEASING
    return saved


async def test_a_reservation_heard_after_giving_up_is_released_not_captured(sagas: Sagas) -> None:
    payment = await _given_up(sagas)

    assert await sagas.deliver(reserved(payment)) == []
    assert (await sagas.get(payment.id)).stage == Stage.RELEASING


async def test_a_capture_that_landed_before_the_give_up_completes_the_payment(sagas: Sagas) -> None:
    """The release accounts answers for a hold its reservation already captured is the
    capture again: the money moved, so the payment completed, without a reason."""
    payment = await _given_up(sagas)

    completed = only(await sagas.deliver(captured(payment, entry_id="entry-late")), ev.PaymentCompleted)

    assert completed.entry_id == "entry-late"
    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.reason, saved.detail, saved.entry_id) == (Stage.COMPLETED, None, None, "entry-late")


async def test_a_rejection_heard_after_giving_up_ends_the_saga(sagas: Sagas) -> None:
    """Releasing a hold accounts had rejected answers with the rejection again."""
    payment = await _given_up(sagas)

    failed = only(await sagas.deliver(reservation_rejected(payment)), ev.PaymentFailed)

    assert failed.reason == Reason.TIMED_OUT
    assert (await sagas.get(payment.id)).stage == Stage.FAILED


async def test_a_capturing_saga_is_resent_but_never_given_up(sagas: Sagas) -> None:
    payment = await sagas.capturing()

    for attempt in range(2, MAX_RESERVE_ATTEMPTS + 5):
        sagas.ctx.clock.advance(OVERDUE)
        touched, written = await sagas.sweep()
        assert touched == 1
        assert types(written) == [acc.CaptureHold.TYPE, ev.PaymentStepRetried.TYPE]
        assert only(written, acc.CaptureHold).target_account_id == PAYEE
        assert only(written, ev.PaymentStepRetried).attempt == attempt

    saved = await sagas.get(payment.id)
    assert (saved.stage, saved.reason, saved.attempts) == (Stage.CAPTURING, None, MAX_RESERVE_ATTEMPTS + 4)
    assert only(await sagas.deliver(captured(payment)), ev.PaymentCompleted).payment_id == payment.id


async def test_a_releasing_saga_resends_the_release(sagas: Sagas) -> None:
    payment, _ = await sagas.start(amount_minor=RISK_MAGIC_AMOUNT)
    await sagas.deliver(reserved(payment))
    sagas.ctx.clock.advance(OVERDUE)

    touched, written = await sagas.sweep()

    assert touched == 1
    assert types(written) == [acc.ReleaseHold.TYPE, ev.PaymentStepRetried.TYPE]
    assert only(written, ev.PaymentStepRetried).stage == Stage.RELEASING
    assert (await sagas.get(payment.id)).stage == Stage.RELEASING


async def test_terminal_sagas_are_never_swept(sagas: Sagas) -> None:
    await sagas.completed()
    await _in_stage(sagas, "failed")
    sagas.ctx.clock.advance(timedelta(days=3))

    assert await sagas.sweep() == (0, [])


async def test_a_sweep_takes_at_most_its_limit_oldest_first(sagas: Sagas) -> None:
    first, _ = await sagas.start()
    await sagas.start()
    await sagas.start()
    sagas.ctx.clock.advance(OVERDUE)

    touched = await sagas.sweeper(limit=2).sweep()

    assert touched == 2
    assert (await sagas.get(first.id)).attempts == 2
    touched, written = await sagas.sweep()
    assert (touched, types(written)) == (1, [acc.ReserveFunds.TYPE, ev.PaymentStepRetried.TYPE])


def kyc_decided(customer_id: str, status: str, kyc_class: str) -> acc.KycApplicationDecided:
    return acc.KycApplicationDecided(
        customer_id=customer_id,
        application_id=str(uuid.uuid4()),
        status=status,  # type: ignore[arg-type]
        reason="face_match",
        kyc_class=kyc_class,
        decided_by="system:kyc-sandbox-rule",
    )


async def test_a_kyc_decision_is_kept_as_the_payers_class(sagas: Sagas) -> None:
    customer = f"cust-{uuid.uuid4()}"
    assert await store.payer_class_of(sagas.db, customer) is None
    for decided in (kyc_decided(customer, "refused", "II"), kyc_decided(customer, "approved", "I")):
        async with sagas.uow() as uow:
            await handlers.when_kyc_decided_note_payer_class(sagas.ctx, sagas.ctx.batch(uow), decided)
    assert await store.payer_class_of(sagas.db, customer) == "I"
