"""accounts tables and the queries the handlers need."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import Executable

from services.accounts import domain
from services.accounts.compliance.store import compliance_tables
from shared.db import Transactional, UtcDateTime, naming_metadata, table_of
from shared.events import Message
from shared.events.accounts import CaptureHold, ReserveFunds, StatementText, TransferFunds
from shared.kafka.consumer import Batch
from shared.kafka.messaging import UnitOfWork, messaging_tables
from shared.migrations import Migrations


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))
# The AML module's tables (services/accounts/compliance): in this process's schema and
# migrations, read and written by that module alone.
compliance = compliance_tables(Base.metadata)


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kyc_class: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The keyed digest of the resident ID number an approved KYC upgrade bound to this
    # customer (services/accounts/kyc.py): unique, so one number vouches for one customer.
    id_number_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)


class Account(Base):
    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    held_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_overdraft: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A freeze by an operator with the compliance role (services/accounts/freezes.py).
    freeze_mode: Mapped[str | None] = mapped_column(String(10), default=None)
    freeze_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    frozen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Hold(Base):
    __tablename__ = "hold"
    __table_args__ = (Index("ix_hold_customer_active", "customer_id", "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))
    counts_toward_limit: Mapped[bool] = mapped_column(Boolean, default=True)
    reference: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    target_account_id: Mapped[str | None] = mapped_column(String(64))
    captured_minor: Mapped[int | None] = mapped_column(BigInteger)
    entry_id: Mapped[str | None] = mapped_column(String(36))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The service whose saga reserved it (domain.Hold.reserved_by).
    reserved_by: Mapped[str | None] = mapped_column(String(20))


class KycApplication(Base):
    """A customer's application to move up a KYC class (services/accounts/kyc.py)."""

    __tablename__ = "kyc_application"
    __table_args__ = (Index("ix_kyc_application_status_created_at", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    legal_name: Mapped[str] = mapped_column(String(100))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    # Keyed digest of the number, bound to the customer on approval (None: before revision
    # eb88cb3d5a74, when it was not kept).
    id_number_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    face_match_score: Mapped[float] = mapped_column(Float)
    from_class: Mapped[str] = mapped_column(String(3))
    to_class: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(300))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class JournalEntry(Base):
    __tablename__ = "journal_entry"
    # A command's business id (transfer id, credit id, hold id) posts at most once.
    __table_args__ = (UniqueConstraint("kind", "reference", name="uq_journal_entry_kind_reference"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The business object behind the entry (shared/schemas/statements.py); NULL on entries
    # posted before commands said it: services/accounts/statements.py derives one.
    reference_kind: Mapped[str | None] = mapped_column(String(20))
    reference_id: Mapped[str | None] = mapped_column(String(64))


class JournalLine(Base):
    __tablename__ = "journal_line"
    __table_args__ = (Index("ix_journal_line_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("journal_entry.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    counterparty_account_id: Mapped[str | None] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # How this side reads on its statement; NULL on older lines (the entry's description).
    kind: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(200))


class CommandOutcome(Base):
    """The fact a credit or transfer id produced, applied or rejected: replayed verbatim on a re-send."""

    __tablename__ = "command_outcome"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    fact_type: Mapped[str] = mapped_column(String(100))
    fact_data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DailyOutflow(Base):
    """Money a class II/III customer paid out on a bank day (captured or transferred)."""

    __tablename__ = "daily_outflow"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


# --- the command batch: read with Core, written back once at commit -----------------------
# An ORM flush costs about 300 us per object here; a Core executemany about 100 us per
# statement whatever its rows. So a batch of commands works on plain rows and writes
# what changed with one statement per table and kind of change, when it commits.

_account = table_of(Account)
_customer = table_of(Customer)
_hold = table_of(Hold)
_entry = table_of(JournalEntry)
_line = table_of(JournalLine)
_outcome = table_of(CommandOutcome)
_outflow = table_of(DailyOutflow)

_HOLD_COLUMNS = tuple(c.key for c in _hold.c)
_hold_values = attrgetter(*_HOLD_COLUMNS)

_INSERT_HOLD = insert(_hold)


@cache
def _update_hold(columns: tuple[str, ...]) -> Executable:
    """The UPDATE of these columns of holds: a capture, release or expiry changes a few,
    and an indexed column left out of it leaves its index alone (SQLite)."""
    return update(_hold).where(_hold.c.id == bindparam("b_id")).values({n: bindparam(f"b_{n}") for n in columns})


_UPDATE_BALANCES = (
    update(_account)
    .where(_account.c.id == bindparam("b_id"))
    .values(balance_minor=bindparam("b_balance_minor"), held_minor=bindparam("b_held_minor"))
)
_INSERT_ENTRY = insert(_entry)
_INSERT_LINE = insert(_line)
_INSERT_OUTCOME = insert(_outcome)
_INSERT_OUTFLOW = insert(_outflow)
_UPDATE_OUTFLOW = (
    update(_outflow)
    .where(_outflow.c.customer_id == bindparam("b_customer_id"), _outflow.c.day == bindparam("b_day"))
    .values(amount_minor=bindparam("b_amount_minor"))
)

# The batch's reads, built once: each runs through db's QuickSelect in the batch's
# transaction (on PostgreSQL through the session, taking its row locks), the lists of ids
# bound as expanding parameters. Through the session, SQLAlchemy's per-statement work on
# the IN of a list cost more than the query.
_SELECT_HOLDS = select(_hold).where(_hold.c.id.in_(bindparam("ids", expanding=True))).with_for_update()
_SELECT_ACCOUNTS = (
    select(
        _account.c.id,
        _account.c.customer_id,
        _account.c.currency,
        _account.c.balance_minor,
        _account.c.held_minor,
        _account.c.allow_overdraft,
        _customer.c.kyc_class,
        _account.c.freeze_mode,
        _account.c.freeze_reason,
    )
    .select_from(_account.outerjoin(_customer, _customer.c.id == _account.c.customer_id))
    .where(_account.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_account.c.id)
    .with_for_update(of=_account)
)
# All the outflow rows in one query, locked in the customers' order (two PostgreSQL
# consumers wait for each other rather than deadlock).
_SELECT_OUTFLOW = (
    select(_outflow.c.customer_id, _outflow.c.amount_minor)
    .where(_outflow.c.customer_id.in_(bindparam("customers", expanding=True)), _outflow.c.day == bindparam("day"))
    .order_by(_outflow.c.customer_id)
    .with_for_update()
)
# The customers' active holds toward the limit but those the batch holds in memory (`mine`).
_SELECT_HELD = (
    select(_hold.c.customer_id, func.sum(_hold.c.amount_minor))
    .where(
        _hold.c.customer_id.in_(bindparam("customers", expanding=True)),
        _hold.c.status == domain.HoldStatus.ACTIVE,
        _hold.c.counts_toward_limit.is_(True),
        _hold.c.id.not_in(bindparam("mine", expanding=True)),
    )
    .group_by(_hold.c.customer_id)
)
_OUTCOME_COLUMNS = (_outcome.c.kind, _outcome.c.reference, _outcome.c.fact_type, _outcome.c.fact_data)
_SELECT_OUTCOMES = select(*_OUTCOME_COLUMNS).where(_outcome.c.reference.in_(bindparam("references", expanding=True)))
_SELECT_OUTCOME = select(*_OUTCOME_COLUMNS).where(
    _outcome.c.kind == bindparam("kind"), _outcome.c.reference == bindparam("reference")
)


@dataclass(slots=True)
class OutcomeRow:
    """A `command_outcome` row: the fact a credit or transfer id produced."""

    kind: str
    reference: str
    fact_type: str
    fact_data: dict[str, Any]
    created_at: datetime | None = None


class LedgerBatch(Batch):
    """What one transaction of ledger commands touches, loaded up front (and locked, on
    PostgreSQL), and handed to every handler of the transaction.

    A key present with None is a known miss: no second query for it. The rows are the
    domain's objects, made once per batch and changed in place by its rules: nothing is
    written until `write` stages, just before the commit, only what is new or differs
    from what was loaded, with one statement per table and kind of change (QuickWrite, on
    inline SQLite). A rule that refuses changes nothing, so an object a command was
    refused on is as it was. `day` is the bank day whose daily limits a
    batch of commands reads; None where no limit is read (seeding)."""

    def __init__(self, uow: UnitOfWork, day: date | None = None) -> None:
        super().__init__(uow)
        # Its reads run in the unit of work's transaction without opening its session (on
        # inline SQLite; PostgreSQL's go through the session, taking their row locks).
        self.tx: Transactional = uow.transaction
        self.day = day
        self.db = uow.db
        self.accounts: dict[str, domain.Account | None] = {}
        self.holds: dict[str, domain.Hold | None] = {}
        self.outcomes: dict[tuple[str, str], OutcomeRow | None] = {}
        # Daily limits. A customer's limit-counting holds are those this batch holds in
        # memory (`holds_of`, always current) plus the database's others (`held_elsewhere`),
        # so the daily outflow is read without writing the batch's changes first.
        self.holds_of: dict[str, dict[str, domain.Hold]] = {}
        self.held_elsewhere: dict[str, int] = {}
        # Today's outflow per (customer, day); None: no row yet.
        self.outflow: dict[tuple[str, date], int | None] = {}
        # As loaded, to write back only what changed; absent from these: new in this batch.
        self.loaded_balances: dict[str, tuple[int, int]] = {}
        self.loaded_holds: dict[str, tuple[Any, ...]] = {}
        self.loaded_outflow: dict[tuple[str, date], int] = {}
        self.new_holds: list[domain.Hold] = []
        self.entries: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.new_outcomes: list[OutcomeRow] = []

    async def load(self, messages: Sequence[Any]) -> None:
        await prefetch(self, messages)

    async def write(self) -> None:
        for statement, rows in self.writes():
            for row in rows:
                self.uow.stage(statement, row)

    def track(self, hold: domain.Hold, *, loaded: bool) -> None:
        """Keep `hold` (`loaded` from the database, or new in this batch) in memory."""
        self.holds[hold.id] = hold
        if loaded:
            self.loaded_holds[hold.id] = _hold_values(hold)
        else:
            self.new_holds.append(hold)
        if hold.customer_id is None:
            return
        self.holds_of.setdefault(hold.customer_id, {})[hold.id] = hold
        if loaded and hold.customer_id in self.held_elsewhere and hold.counts_today:
            # Loaded after its customer's other holds were summed: it was among them.
            self.held_elsewhere[hold.customer_id] -= hold.amount_minor

    def writes(self) -> Iterator[tuple[Executable, list[dict[str, Any]]]]:
        """Each statement with its rows, in an order the foreign keys accept."""
        yield _INSERT_HOLD, [dict(zip(_HOLD_COLUMNS, _hold_values(h), strict=True)) for h in self.new_holds]
        # Each hold's changed columns, the holds changed alike in one statement.
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for hold_id, was in self.loaded_holds.items():
            if (now := _hold_values(self.holds[hold_id])) != was:
                values = [(n, v) for n, old, v in zip(_HOLD_COLUMNS, was, now, strict=True) if v != old]
                row = {"b_id": hold_id} | {f"b_{n}": v for n, v in values}
                changed.setdefault(tuple(n for n, _ in values), []).append(row)
        for columns, rows in changed.items():
            yield _update_hold(columns), rows
        yield (
            _UPDATE_BALANCES,
            [
                {"b_id": a.id, "b_balance_minor": a.balance_minor, "b_held_minor": a.held_minor}
                for a in self.accounts.values()
                if a is not None and (a.balance_minor, a.held_minor) != self.loaded_balances[a.id]
            ],
        )
        yield _INSERT_ENTRY, self.entries
        yield _INSERT_LINE, self.lines
        yield (
            _INSERT_OUTCOME,
            [
                {
                    "kind": o.kind,
                    "reference": o.reference,
                    "fact_type": o.fact_type,
                    "fact_data": o.fact_data,
                    "created_at": o.created_at,
                }
                for o in self.new_outcomes
            ],
        )
        # Two PostgreSQL consumers inserting the same new (customer, day) fail one batch on
        # the primary key; its commands are retried one by one and then find the row.
        yield (
            _INSERT_OUTFLOW,
            [
                {"customer_id": c, "day": d, "amount_minor": paid}
                for (c, d), paid in self.outflow.items()
                if paid is not None and (c, d) not in self.loaded_outflow
            ],
        )
        # A row that existed was read FOR UPDATE in this transaction: the new total stands.
        yield (
            _UPDATE_OUTFLOW,
            [
                {"b_customer_id": c, "b_day": d, "b_amount_minor": paid}
                for (c, d), paid in self.outflow.items()
                if (c, d) in self.loaded_outflow and paid != self.loaded_outflow[(c, d)]
            ],
        )


# What the commands' fields name: an account, a hold, a credit's or transfer's id.
_ACCOUNT_FIELDS = ("account_id", "target_account_id", "to_account_id", "source_account_id")
_HOLD_FIELDS = ("hold_id",)
_REFERENCE_FIELDS = ("credit_id", "transfer_id")


@cache
def _fields(kind: type[Message], names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `names` that the message class `kind` has: pydantic answers a read of a
    field a message lacks with a raised AttributeError, dearer than reading ten fields."""
    return tuple(name for name in names if name in kind.model_fields)


async def prefetch(batch: LedgerBatch, commands: Sequence[Any]) -> None:
    """Load every hold, account, customer class, command outcome and (given the bank
    `day`) daily-limit figure a batch touches in a few queries, not several per command."""
    hold_ids: set[str] = set()
    account_ids: set[str] = set()
    references: set[str] = set()
    for c in commands:
        message_type: type[Message] = type(c)
        for ids, names in ((account_ids, _ACCOUNT_FIELDS), (hold_ids, _HOLD_FIELDS), (references, _REFERENCE_FIELDS)):
            for name in _fields(message_type, names):
                if (value := getattr(c, name)) is not None:
                    ids.add(value)
    hold_ids.difference_update(batch.holds)
    if hold_ids:
        found = await _select_holds(batch, hold_ids)
        for hold_id in hold_ids:
            batch.holds[hold_id] = None
        for h in found:
            batch.track(h, loaded=True)
        account_ids.update(h.account_id for h in found)
    await _load_into(batch, account_ids)
    if batch.day is not None:
        # Daily limits: a reservation or transfer toward one reads its payer's outflow and
        # active holds; a capture adds to its customer's outflow. Nothing else reads them.
        limited: set[str] = set()
        captured: set[str] = set()
        for c in commands:
            if isinstance(c, ReserveFunds | TransferFunds) and c.counts_toward_limit:
                payer = batch.accounts.get(c.account_id)
                if payer is not None and payer.customer_id is not None:
                    limited.add(payer.customer_id)
            elif isinstance(c, CaptureHold):
                hold = batch.holds.get(c.hold_id)
                if hold is not None and hold.counts_toward_limit and hold.customer_id is not None:
                    captured.add(hold.customer_id)
        # The outflow rows first (_SELECT_OUTFLOW), then the holds toward limits.
        await _load_outflow(batch, limited | captured, batch.day)
        await _load_limits(batch, limited, batch.day)
    if references:
        rows = await batch.db.quick_select(_SELECT_OUTCOMES).within(batch.tx, references=sorted(references))
        by_key = {(r[0], r[1]): OutcomeRow(*r) for r in rows}
        for ref in references:
            for kind in ("credit", "transfer"):
                batch.outcomes[(kind, ref)] = by_key.get((kind, ref))


async def _select_holds(batch: LedgerBatch, ids: set[str]) -> list[domain.Hold]:
    rows = await batch.db.quick_select(_SELECT_HOLDS).within(batch.tx, ids=sorted(ids))
    return [hold_from_row(dict(zip(_HOLD_COLUMNS, r, strict=True))) for r in rows]


async def _load_into(batch: LedgerBatch, ids: set[str]) -> None:
    missing = sorted(i for i in ids if i not in batch.accounts)
    if not missing:
        return
    for r in await batch.db.quick_select(_SELECT_ACCOUNTS).within(batch.tx, ids=missing):
        account_id, customer_id, currency, balance, held, overdraft, kyc_class, freeze_mode, freeze_reason = r
        batch.accounts[account_id] = domain.Account(
            id=account_id,
            currency=currency,
            balance_minor=balance,
            held_minor=held,
            customer_id=customer_id,
            kyc_class=domain.KycClass(kyc_class) if kyc_class else None,
            allow_overdraft=overdraft,
            freeze_mode=domain.FreezeMode(freeze_mode) if freeze_mode else None,
            freeze_reason=freeze_reason,
        )
        batch.loaded_balances[account_id] = (balance, held)
    for i in missing:
        batch.accounts.setdefault(i, None)


async def _load_outflow(batch: LedgerBatch, customers: set[str], day: date) -> None:
    """Today's outflow rows (locked, on PostgreSQL) of `customers` not read yet; None: no row."""
    missing = sorted(c for c in customers if (c, day) not in batch.outflow)
    if not missing:
        return
    found = dict(await batch.db.quick_select(_SELECT_OUTFLOW).within(batch.tx, customers=missing, day=day))
    for c in missing:
        paid = batch.outflow[(c, day)] = found.get(c)
        if paid is not None:
            batch.loaded_outflow[(c, day)] = paid


async def _load_limits(batch: LedgerBatch, customers: set[str], day: date) -> None:
    """Today's outflow rows (locked, on PostgreSQL) and the limit-counting holds the batch
    does not hold in memory, for `customers` not loaded yet."""
    missing = sorted(c for c in customers if c not in batch.held_elsewhere)
    if not missing:
        return
    mine = [h for c in missing for h in batch.holds_of.get(c, {})]
    held = dict(await batch.db.quick_select(_SELECT_HELD).within(batch.tx, customers=missing, mine=mine))
    for c in missing:
        batch.held_elsewhere[c] = int(held.get(c) or 0)
    await _load_outflow(batch, set(missing), day)


async def _outflow_of(batch: LedgerBatch, customer_id: str, day: date) -> int | None:
    if (customer_id, day) not in batch.outflow:
        # Read now: the batch did not load it (the bank day turned during the batch).
        await _load_outflow(batch, {customer_id}, day)
    return batch.outflow[(customer_id, day)]


async def get_hold(batch: LedgerBatch, hold_id: str) -> domain.Hold | None:
    if hold_id not in batch.holds:
        batch.holds[hold_id] = None
        for found in await _select_holds(batch, {hold_id}):
            batch.track(found, loaded=True)
    return batch.holds[hold_id]


def add_hold(batch: LedgerBatch, row: domain.Hold) -> None:
    """A new hold (never in the database before this batch)."""
    batch.track(row, loaded=False)


async def get_account(batch: LedgerBatch, account_id: str) -> domain.Account | None:
    if account_id not in batch.accounts:
        await _load_into(batch, {account_id})
    return batch.accounts[account_id]


async def entry_exists(session: AsyncSession, kind: str, reference: str) -> bool:
    """Whether the journal already holds the entry of this business id."""
    found = await session.execute(select(_entry.c.id).where(_entry.c.kind == kind, _entry.c.reference == reference))
    return found.first() is not None


async def get_outcome(batch: LedgerBatch, kind: str, reference: str) -> OutcomeRow | None:
    if (kind, reference) not in batch.outcomes:
        found = await batch.db.quick_select(_SELECT_OUTCOME).within(batch.tx, kind=kind, reference=reference)
        batch.outcomes[(kind, reference)] = OutcomeRow(*found[0]) if found else None
    return batch.outcomes[(kind, reference)]


def add_outcome(batch: LedgerBatch, row: OutcomeRow) -> None:
    batch.outcomes[(row.kind, row.reference)] = row
    batch.new_outcomes.append(row)


async def load_accounts(batch: LedgerBatch, ids: list[str]) -> dict[str, domain.Account]:
    """The batch's accounts (locked on PostgreSQL; SQLite has one writer): what a rule
    changes on them is written when the batch commits."""
    accounts = batch.accounts
    if any(i not in accounts for i in ids):
        await _load_into(batch, set(ids))
    return {i: a for i in ids if (a := accounts[i]) is not None}


async def outflow_today(batch: LedgerBatch, customer_id: str | None, day: date) -> int:
    """Paid out today plus what active holds toward the limit have reserved, as of this
    point in the batch (its own unwritten changes included)."""
    if customer_id is None:
        return 0
    if customer_id not in batch.held_elsewhere:
        await _load_limits(batch, {customer_id}, day)
    paid = await _outflow_of(batch, customer_id, day)
    held = batch.held_elsewhere[customer_id] + sum(
        h.amount_minor for h in batch.holds_of.get(customer_id, {}).values() if h.counts_today
    )
    return (paid or 0) + held


async def add_outflow(batch: LedgerBatch, customer_id: str | None, day: date, amount: int) -> None:
    """Count `amount` toward today's outflow; written with the rest of the batch."""
    if customer_id is None or amount <= 0:
        return
    paid = await _outflow_of(batch, customer_id, day)
    batch.outflow[(customer_id, day)] = (paid or 0) + amount


def post(
    batch: LedgerBatch,
    posting: domain.Posting,
    accounts: dict[str, domain.Account],
    *,
    entry_id: str,
    kind: str,
    reference: str,
    description: str,
    correlation_id: str | None,
    now: datetime,
    statement: StatementText | None = None,
) -> None:
    """Record a journal entry and its lines (with the accounts' balances after it) for the
    batch's write. With `statement`, each line carries its side's kind and description."""
    batch.entries.append(
        {
            "id": entry_id,
            "kind": kind,
            "reference": reference,
            "description": description[:200],
            "correlation_id": correlation_id,
            "created_at": now,
            "reference_kind": statement.reference_kind.value if statement else None,
            "reference_id": statement.reference_id if statement else None,
        }
    )
    ids = [line.account_id for line in posting.lines]
    for i, line in enumerate(posting.lines):
        counterparty = ids[1 - i] if len(ids) == 2 else None
        side: tuple[str | None, str | None] = (None, None)
        if statement is not None:
            side = (
                (statement.debit_kind.value, statement.debit_description[:200])
                if line.amount_minor < 0
                else (statement.credit_kind.value, statement.credit_description[:200])
            )
        batch.lines.append(
            {
                "entry_id": entry_id,
                "account_id": line.account_id,
                "counterparty_account_id": counterparty,
                "amount_minor": line.amount_minor,
                "currency": line.currency,
                "balance_after_minor": accounts[line.account_id].balance_minor,
                "created_at": now,
                "kind": side[0],
                "description": side[1],
            }
        )


def hold_from_row(row: Any) -> domain.Hold:
    """The one mapping of a `hold` row to the domain's Hold: columns and fields share
    names, and a status read back as text compares equal to its HoldStatus."""
    return domain.Hold(**row)


async def outflow_as_of(session: AsyncSession, customer_id: str, day: date) -> int:
    """What a reservation would find already spent toward the daily limit (`outflow_today`),
    read outside a batch: paid out on `day` plus the active holds toward the limit."""
    paid = await session.scalar(
        select(_outflow.c.amount_minor).where(_outflow.c.customer_id == customer_id, _outflow.c.day == day)
    )
    held = await session.scalar(
        select(func.sum(_hold.c.amount_minor)).where(
            _hold.c.customer_id == customer_id,
            _hold.c.status == domain.HoldStatus.ACTIVE,
            _hold.c.counts_toward_limit.is_(True),
        )
    )
    return int(paid or 0) + int(held or 0)
