"""payments tables and the queries the handlers need: one row per payment saga, keyed by
payment id (also its hold id), and one per sandbox deposit (its id is the credit id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    Select,
    String,
    UniqueConstraint,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.payments import domain
from shared.db import Database, UtcDateTime, naming_metadata, table_of
from shared.events import Message
from shared.events import accounts as acc
from shared.kafka.consumer import Batch
from shared.kafka.messaging import UnitOfWork, messaging_tables
from shared.migrations import Migrations
from shared.saga.store import SagaColumns


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))


class Payment(SagaColumns, Base):
    """A payment and its saga (kind: transfer, bill, qr or topup)."""

    __tablename__ = "payment"
    __table_args__ = (
        # The gateway's Idempotency-Key, kept here too: a retry that slips past the
        # gateway still finds the payment it already made.
        UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_customer_id_idempotency_key"),
        Index("ix_payment_customer_id_created_at", "customer_id", "created_at"),
        # The payee's incoming payments (GET /v1/payments?direction=incoming).
        Index("ix_payment_payee_customer_id_created_at", "payee_customer_id", "created_at"),
        # Whether a customer has paid a payee (the risk check's `_PAID_TO`, step-up's
        # `paid_before`): the pair's own payments, not every payment to the payee.
        Index("ix_payment_payee_key_customer_id", "payee_key", "customer_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    payer_account_id: Mapped[str] = mapped_column(String(64))
    payer_class: Mapped[str | None] = mapped_column(String(3))
    payee_account_id: Mapped[str] = mapped_column(String(64))
    payee_customer_id: Mapped[str | None] = mapped_column(String(36))
    payee_key: Mapped[str] = mapped_column(String(120))
    payee_label: Mapped[str] = mapped_column(String(120))
    reference: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(140), default="")
    payer_label: Mapped[str] = mapped_column(String(120), default="", server_default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    entry_id: Mapped[str | None] = mapped_column(String(36))


class Deposit(SagaColumns, Base):
    """A sandbox cash-in and its saga: one CreditAccount from internal:cash-in."""

    __tablename__ = "deposit"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key", name="uq_deposit_customer_id_idempotency_key"),
        Index("ix_deposit_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    # Optional for deposits: a retry without a key makes a second deposit, as it says.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


# --- the payment sagas' hot path, in Core --------------------------------------------------
# A consumer batch or a group of requests writes its sagas with one statement each way,
# instead of an ORM flush per object (about 300 us each here). Sagas on this path are
# the domain's plain `Payment` objects, mapped to and from rows here.

# Core statements and queries that read whole payments into the domain's objects.
payment_table = table_of(Payment)
_COLUMNS = [c.key for c in payment_table.c]
# What a saga step may change; the rest is fixed when the payment is requested.
_MUTABLE = ("step", "attempts", "deadline_at", "outcome", "reason", "detail", "entry_id", "updated_at", "ended_at")

INSERT = insert(payment_table)
UPDATE = (
    update(payment_table)
    .where(payment_table.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _MUTABLE})
)


def payment_of(row: RowMapping) -> domain.Payment:
    """The one mapping of a `payment` row to the domain's Payment (columns and fields share names)."""
    return domain.Payment(**row)


def row_of(payment: domain.Payment) -> dict[str, Any]:
    """Every column of a new payment, for INSERT."""
    return {name: getattr(payment, name) for name in _COLUMNS}


_CHANGED = [(f"b_{name}", name) for name in _MUTABLE]


def changes_of(payment: domain.Payment) -> dict[str, Any]:
    """The saga's current step, for UPDATE."""
    changes = {key: getattr(payment, name) for key, name in _CHANGED}
    changes["b_id"] = payment.id
    return changes


# A batch's payments by id: a quick select (shared/db.py), read on inline SQLite through
# the unit of work's own connection rather than an ORM execute per batch.
_BY_IDS = select(payment_table).where(payment_table.c.id.in_(bindparam("ids", expanding=True))).with_for_update()


async def load_payments(uow: UnitOfWork, ids: Iterable[str]) -> dict[str, domain.Payment]:
    """Payments by id, locked FOR UPDATE on PostgreSQL (SQLite's single writer already
    excludes the sweeper)."""
    rows = await uow.db.quick_select(_BY_IDS).within(uow.transaction, ids=list(ids))
    return {row[0]: domain.Payment(**dict(zip(_COLUMNS, row, strict=True))) for row in rows}


async def _first(session: AsyncSession, *where: Any) -> domain.Payment | None:
    row = (await session.execute(select(payment_table).where(*where))).mappings().first()
    return payment_of(row) if row is not None else None


async def payment_by_id(session: AsyncSession, payment_id: str) -> domain.Payment | None:
    return await _first(session, payment_table.c.id == payment_id)


async def payment_by_key(session: AsyncSession, customer_id: str, key: str) -> domain.Payment | None:
    return await _first(session, payment_table.c.customer_id == customer_id, payment_table.c.idempotency_key == key)


async def deposit_by_key(session: AsyncSession, customer_id: str, key: str) -> Deposit | None:
    return await session.scalar(
        select(Deposit).where(Deposit.customer_id == customer_id, Deposit.idempotency_key == key)
    )


async def deposits_for_update(session: AsyncSession, ids: Iterable[str]) -> list[Deposit]:
    return list((await session.scalars(select(Deposit).where(Deposit.id.in_(list(ids))).with_for_update())).all())


# How many payments each payer started within the velocity window before the payment
# assessed, counted by the database over its (customer_id, created_at) index: a count per
# payment, not a row per payment in the window. Reading the payers' payment times back
# instead cost a row, and Python objects, for every payment in their windows: hundreds
# per busy payer, more than the rest of the risk check. The bounds are bound as the
# column's own type, so the comparison is the database's on either backend (SQLite's
# fixed-width UTC text keeps time order). One query counts for up to RECENT_AT_ONCE
# payments, as one row: a statement for each power of two, the last payment repeated
# to fill it, so a few statements serve every size of batch.
RECENT_AT_ONCE = 32


@cache
def _recent(size: int) -> Select[Any]:
    return select(
        *(
            select(func.count())
            .select_from(payment_table)
            .where(
                payment_table.c.customer_id == bindparam(f"customer_{i}"),
                payment_table.c.created_at >= bindparam(f"since_{i}", type_=UtcDateTime),
                payment_table.c.created_at < bindparam(f"until_{i}", type_=UtcDateTime),
            )
            .scalar_subquery()
            .label(f"recent_{i}")
            for i in range(size)
        )
    )


# Which of a batch's (payer, payee) pairs have a completed payment: asked as two lists,
# a quick select (a pair of lists rather than a list of pairs, which it cannot take), and
# the pairs the batch did not ask about are dropped when read.
_PAID_TO = (
    select(payment_table.c.customer_id, payment_table.c.payee_key)
    .where(
        payment_table.c.customer_id.in_(bindparam("customers", expanding=True)),
        payment_table.c.payee_key.in_(bindparam("payees", expanding=True)),
        payment_table.c.outcome == "completed",
    )
    .distinct()
)


@dataclass(frozen=True)
class RiskInputs:
    recent_payments: int  # the payer's payments within the velocity window before this one
    # A completed payment to this payee, as committed before the batch; asked only for a
    # payment whose amount makes the rule read it (domain.payee_matters), False otherwise.
    paid_before: bool


class KnownPayees(set[tuple[str, str]]):
    """(customer, payee key) pairs with a completed payment (or, as `Context.met_payees`,
    whose payee the customer has been shown): once known, known for good, so a positive
    answer is kept in memory (bounded) and the database is asked only otherwise. A set,
    so the risk check's look-up costs no Python call."""

    def __init__(self, limit: int = 100_000) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, customer_id: str, payee_key: str) -> None:
        if len(self) > self.limit:
            self.clear()
        self.add((customer_id, payee_key))


class SagaBatch(Batch):
    """The payment sagas one transaction works on, handed to every handler of it: loaded
    (and locked, on PostgreSQL) up front with what their risk decisions read, changed in
    memory, and written back with one UPDATE statement for all of them (`write`)."""

    def __init__(self, uow: UnitOfWork, *, policy: domain.RiskPolicy, known: KnownPayees) -> None:
        super().__init__(uow)
        self.policy = policy
        self.velocity_window = policy.velocity_window
        self.known = known
        # By id; None: not a payment of ours (most facts on accounts.events are not).
        self.payments: dict[str, domain.Payment | None] = {}
        self.risk: dict[str, RiskInputs] = {}
        self._moved: dict[str, domain.Payment] = {}

    async def load(self, messages: Sequence[Message]) -> None:
        ids = {hold_id for m in messages if (hold_id := getattr(m, "hold_id", None)) is not None}
        await self._load(ids)
        reserved = {m.hold_id for m in messages if isinstance(m, acc.FundsReserved)}
        await self.load_risk([p for i in reserved if (p := self.payments.get(i)) is not None and p.step == "reserve"])

    async def _load(self, ids: set[str]) -> None:
        missing = ids - self.payments.keys()
        if not missing:
            return
        found = await load_payments(self.uow, missing)
        self.payments.update({i: found.get(i) for i in missing})

    async def payment(self, hold_id: str) -> domain.Payment | None:
        """The payment a fact about `hold_id` concerns, or None for another service's hold."""
        if hold_id not in self.payments:
            await self._load({hold_id})
        return self.payments[hold_id]

    async def risk_inputs(self, payment: domain.Payment) -> RiskInputs:
        if payment.id not in self.risk:  # a fact applied outside a batch's load
            await self.load_risk([payment])
        return self.risk[payment.id]

    def moved(self, payment: domain.Payment) -> None:
        """Mark a payment changed: `write` stages its new step."""
        self._moved[payment.id] = payment

    async def write(self) -> None:
        for payment in self._moved.values():
            self.uow.stage(UPDATE, changes_of(payment))
        self._moved.clear()

    async def load_risk(self, assessing: list[domain.Payment]) -> None:
        """What the risk rules read for the payments being assessed: their payers' recent
        payments counted (`_recent`), and the (payer, payee) pairs the new-payee rule reads
        and not known to have a completed payment asked about in one query."""
        if not assessing:
            return
        tx, db = self.uow.transaction, self.uow.db
        # Whether a payer has paid the payee before matters only above the new-payee
        # threshold: for the others nothing is asked (most payments, the bench's all).
        asked = {(p.customer_id, p.payee_key) for p in assessing if domain.payee_matters(p.amount_minor, self.policy)}
        unknown = asked - self.known
        if unknown:
            for pair in await db.quick_select(_PAID_TO).within(
                tx, customers=sorted({c for c, _ in unknown}), payees=sorted({k for _, k in unknown})
            ):
                if pair in unknown:
                    self.known.remember(*pair)
        for start in range(0, len(assessing), RECENT_AT_ONCE):
            some = assessing[start : start + RECENT_AT_ONCE]
            size = 1 << (len(some) - 1).bit_length()
            params: dict[str, Any] = {}
            for i, p in enumerate(some + some[-1:] * (size - len(some))):
                params[f"customer_{i}"] = p.customer_id
                params[f"since_{i}"] = p.created_at - self.velocity_window
                params[f"until_{i}"] = p.created_at
            (counts,) = await db.quick_select(_recent(size)).within(tx, **params)
            for p, count in zip(some, counts, strict=False):
                self.risk[p.id] = RiskInputs(
                    recent_payments=int(count), paid_before=(p.customer_id, p.payee_key) in self.known
                )


# --- scheduled transfers and standing orders -------------------------------------------------


class Schedule(Base):
    """A transfer the customer set up to run later, once or repeating (a standing order):
    the runner starts an ordinary payment on each run's bank day (`services/payments/schedules.py`)."""

    __tablename__ = "payment_schedule"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_schedule_customer_id_idempotency_key"),
        Index("ix_payment_schedule_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_payment_schedule_status_next_run_on", "status", "next_run_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    payer_account_id: Mapped[str] = mapped_column(String(64))
    payee_account_id: Mapped[str] = mapped_column(String(64))
    payee_customer_id: Mapped[str | None] = mapped_column(String(36))
    payee_key: Mapped[str] = mapped_column(String(120))
    payee_label: Mapped[str] = mapped_column(String(120))
    # The payee's phone when the customer named them by it (the account is then not shown).
    reference: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(140), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    repeat: Mapped[str] = mapped_column(String(10))
    first_run_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int | None] = mapped_column(Integer)
    runs_made: Mapped[int] = mapped_column(Integer, default=0)
    # The bank day of the next run; None once the schedule is finished or cancelled.
    next_run_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # active | finished | cancelled
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ScheduleRun(Base):
    """One run of a schedule: the payment it started, or why none was started. One row per
    schedule and bank day, so a run is made once however often the runner looks."""

    __tablename__ = "payment_schedule_run"

    schedule_id: Mapped[str] = mapped_column(String(36), ForeignKey("payment_schedule.id"), primary_key=True)
    run_on: Mapped[date] = mapped_column(Date, primary_key=True)
    payment_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- payers' KYC classes, as accounts announces them -----------------------------------------


class PayerClass(Base):
    """A customer's KYC class as the latest `accounts.KycApplicationDecided` gave it. A
    payment's per-payment limit is checked against this local row rather than a fresh
    question to accounts on every payment; no row: the class accounts' directory gives
    (kept half a minute, and a class changes only by such a decision)."""

    __tablename__ = "payer_class"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kyc_class: Mapped[str] = mapped_column(String(8))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


async def paid_to_others_since(session: AsyncSession, customer_id: str, since: datetime) -> int:
    """What the customer's payments to others started since then add up to, those that
    failed and moves between their own accounts aside (domain.counts_toward_limits)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.customer_id == customer_id,
            Payment.created_at >= since,
            or_(Payment.outcome.is_(None), Payment.outcome != "failed"),
            or_(Payment.payee_customer_id.is_(None), Payment.payee_customer_id != customer_id),
        )
    )
    return int(total or 0)


payer_class_table = table_of(PayerClass)
# Read once per payment: a quick select, not a session (shared/db.py).
_PAYER_CLASS = select(payer_class_table.c.kyc_class).where(payer_class_table.c.customer_id == bindparam("customer_id"))


async def payer_class_of(db: Database, customer_id: str) -> str | None:
    """The customer's class as the last KYC decision payments applied says, or None."""
    rows = await db.quick_select(_PAYER_CLASS).all(customer_id=customer_id)
    return rows[0][0] if rows else None


async def note_payer_class(session: AsyncSession, customer_id: str, kyc_class: str, at: datetime) -> None:
    row = await session.get(PayerClass, customer_id)
    if row is None:
        session.add(PayerClass(customer_id=customer_id, kyc_class=kyc_class, decided_at=at))
    else:
        row.kyc_class, row.decided_at = kyc_class, at


# --- saved payees: a customer's address book ------------------------------------------------


class SavedPayee(Base):
    """A payee a customer saved under a nickname: an account or a phone number, checked
    with accounts when saved; `name` is the holder's masked name as it was then."""

    __tablename__ = "saved_payee"
    __table_args__ = (
        UniqueConstraint("customer_id", "payee_ref", name="uq_saved_payee_customer_id_payee_ref"),
        Index("ix_saved_payee_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    nickname: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    payee_ref: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


saved_payee_table = table_of(SavedPayee)


async def saved_payee_of(session: AsyncSession, customer_id: str, payee_id: str) -> SavedPayee | None:
    """The customer's saved payee; another customer's is None, as a missing one."""
    found = await session.get(SavedPayee, payee_id)
    return found if found is not None and found.customer_id == customer_id else None


async def payee_met(session: AsyncSession, customer_id: str, payee_key: str, saved_ref: str) -> bool:
    """Whether the customer has already been shown this payee: a payment of theirs to it,
    in any outcome (its answer carried the payee's name), or it is among their saved payees."""
    paid = exists().where(Payment.customer_id == customer_id, Payment.payee_key == payee_key)
    saved = exists().where(SavedPayee.customer_id == customer_id, SavedPayee.payee_ref == saved_ref)
    return bool(await session.scalar(select(or_(paid, saved))))


def payment_filters(status: str | None, kind: str | None, start: datetime | None, end: datetime | None) -> list[Any]:
    """The payments list's `?status=&kind=` and its instants `[start, end)` as conditions."""
    table = payment_table
    where: list[Any] = []
    if status is not None:
        where.append(table.c.outcome.is_(None) if status == "pending" else table.c.outcome == status)
    if kind is not None:
        where.append(table.c.kind == kind)
    if start is not None:
        where.append(table.c.created_at >= start)
    if end is not None:
        where.append(table.c.created_at < end)
    return where
