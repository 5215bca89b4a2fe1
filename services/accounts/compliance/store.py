"""The AML module's own tables, declared on the metadata its process hands it (as the
messaging tables are), and the queries its handlers and routes need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    FromClause,
    Index,
    MetaData,
    Select,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    case,
    distinct,
    exists,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from services.accounts.compliance.rules import (
    CASH_KINDS,
    CNY,
    Direction,
    Finding,
    Kind,
    Movement,
    Rule,
    Signals,
    Thresholds,
    receiving,
)
from shared.clock import BANK_TZ
from shared.db import Database, Transactional, UtcDateTime
from shared.events import Message
from shared.kafka.consumer import Batch
from shared.kafka.messaging import UnitOfWork


@dataclass(frozen=True)
class ComplianceTables:
    account: Table
    movement: Table
    alert: Table
    report: Table
    covered: Table
    tally: Table


# How far a rule's alerts cover a movement, for the rules whose windows the prefilter reads
# (rapid in and out, many payers): a column of each movement per rule, indexed with the
# account and time, so the prefilter reads only the movements the rule may still read.
UNCOVERED = 0
# Covered only by alerts raised before the movement's own time (the sandbox clock was set
# back): such an alert counts for a window only if it was raised within the lookback, so
# the prefilter still checks it when it reads the movement.
COVERED_BEFORE = 1
# Covered by an alert raised at or after the movement's time. Whenever the movement is in
# one of the rule's windows, that alert was raised after the window began, hence within
# the lookback (never shorter than a window): the rule no longer reads the movement. So
# too, from the start, for what many payers never reads (anything but a transfer received
# from another customer).
COVERED = 2
STATE_COLUMNS = {Rule.RAPID_IN_OUT: "rapid_state", Rule.MANY_PAYERS: "payers_state"}

HOUR = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hour_of(at: datetime) -> int:
    """The UTC hour `at` falls in, counted from the epoch: a tally's bucket."""
    return (at - EPOCH) // HOUR


def hour_after(at: datetime) -> int:
    """The first bucket that starts at or after `at`."""
    hours, rest = divmod(at - EPOCH, HOUR)
    return hours + (1 if rest else 0)


def compliance_tables(metadata: MetaData) -> ComplianceTables:
    account = Table(
        "compliance_account",
        metadata,
        # Who holds each account, as AccountOpened told it: the module reads no ledger table.
        Column("account_id", String(64), primary_key=True),
        Column("customer_id", String(36)),
        Column("kind", String(20), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("opened_at", UtcDateTime, nullable=False),
        Column("last_movement_at", UtcDateTime),
    )
    movement = Table(
        "compliance_movement",
        metadata,
        Column("id", String(100), primary_key=True),
        Column("at", UtcDateTime, nullable=False),  # the sandbox clock, as the ledger posted it
        Column("account_id", String(64), nullable=False),
        Column("customer_id", String(36)),
        Column("direction", String(3), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("amount_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("counterparty_account_id", String(64), nullable=False),
        Column("counterparty_customer_id", String(36)),
        # UNCOVERED, COVERED_BEFORE or COVERED by rapid-in-out and many-payers alerts.
        Column("rapid_state", SmallInteger, nullable=False, default=UNCOVERED, server_default="0"),
        Column("payers_state", SmallInteger, nullable=False, default=UNCOVERED, server_default="0"),
        Index("ix_compliance_movement_customer_at", "customer_id", "at"),
        # The prefilter's reads of an account's movements a rule has not done with yet.
        Index("ix_compliance_movement_rapid", "customer_id", "account_id", "rapid_state", "at"),
        Index("ix_compliance_movement_payers", "customer_id", "account_id", "payers_state", "at"),
    )
    alert = Table(
        "compliance_alert",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("rule", String(20), nullable=False),
        Column("category", String(20), nullable=False),
        Column("customer_id", String(36), nullable=False),
        Column("account_id", String(64), nullable=False),
        # One alert per window: the rule's key for it (rules.Finding.key).
        Column("dedup_key", String(200), nullable=False, unique=True),
        Column("status", String(20), nullable=False),
        Column("detail", String(300), nullable=False),
        Column("total_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("forced", Boolean, nullable=False),
        Column("evidence", JSON, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),  # raised, on the sandbox clock
        Column("reviewer", String(64)),
        Column("review_started_at", UtcDateTime),
        Column("decided_by", String(64)),
        Column("decided_at", UtcDateTime),
        Column("decision_note", Text),
        Column("report_id", String(36)),
        Index("ix_compliance_alert_customer_created", "customer_id", "created_at"),
        Index("ix_compliance_alert_status_created", "status", "created_at"),
    )
    report = Table(
        "compliance_report",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("alert_id", String(36), nullable=False, unique=True),
        Column("kind", String(20), nullable=False),  # large_value or suspicious
        Column("rule", String(20), nullable=False),
        Column("customer_id", String(36), nullable=False),
        Column("account_id", String(64), nullable=False),
        Column("total_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("filed_by", String(64), nullable=False),
        Column("note", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
    )
    covered = Table(
        "compliance_covered",
        metadata,
        # Each movement an alert raised on, by rule: what the rules read as History.covered,
        # kept as rows rather than read out of the alerts' evidence. A movement can be in two
        # alerts of one rule (a forced large-cash alert, then the day's), hence the alert id.
        Column("movement_id", String(100), primary_key=True),
        Column("rule", String(20), primary_key=True),
        Column("alert_id", String(36), primary_key=True),
        Column("customer_id", String(36), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),  # the alert's
        Index("ix_compliance_covered_customer_created", "customer_id", "created_at"),
    )
    tally = Table(
        "compliance_tally",
        metadata,
        # A customer's CNY movements on one account in one UTC hour, summed as they are
        # written, so the prefilter reads a window as a few of these rows instead of
        # scanning its movements: a bank day (Beijing's midnight is a UTC hour) is 24 of
        # them, by direction; a rapid-in-out window their hours inside it and a scan of the
        # part hour at its start. The rapid sums leave out movements COVERED by a rapid-in-
        # out alert (subtracted when the alert covers them).
        Column("customer_id", String(36), primary_key=True),
        Column("hour", BigInteger, primary_key=True),
        Column("account_id", String(64), primary_key=True),
        *(Column(name, BigInteger, nullable=False, default=0) for name in TALLIED),
    )
    return ComplianceTables(account, movement, alert, report, covered, tally)


TALLIED = (
    "cash_in_minor",
    "cash_out_minor",
    "transfers_in_minor",
    "transfers_out_minor",
    "rapid_in_count",
    "rapid_in_minor",
    "rapid_out_minor",
)


def fresh_states(m: Movement) -> dict[str, int]:
    """A movement's coverage states before any alert."""
    return {"rapid_state": UNCOVERED, "payers_state": UNCOVERED if receiving(m) else COVERED}


def tally_of(m: Movement, rapid_state: int) -> dict[str, int]:
    """What one movement adds to its bucket (nothing unless in CNY)."""
    sums = dict.fromkeys(TALLIED, 0)
    if m.currency != CNY:
        return sums
    if m.kind in CASH_KINDS:
        sums[f"cash_{m.direction}_minor"] = m.amount_minor
    elif m.counts_as_transfer:
        sums[f"transfers_{m.direction}_minor"] = m.amount_minor
    if rapid_state != COVERED:
        sums[f"rapid_{m.direction}_minor"] = m.amount_minor
        sums["rapid_in_count"] = 1 if m.direction is Direction.IN else 0
    return sums


class Tallies:
    """Increments to the tally's buckets that a transaction made and has not written yet:
    one upsert per bucket when it commits (`rows`), not one per movement or alert, and
    added by store.signals to what it reads meanwhile. The buckets are pure sums, so the
    order of their increments does not matter, and a bucket read is the database's row
    plus what is held here."""

    def __init__(self) -> None:
        # By customer, then (hour, account): the sums in TALLIED's order.
        self.buckets: dict[str, dict[tuple[int, str], list[int]]] = {}

    def add(self, m: Movement, sums: Mapping[str, int]) -> None:
        assert m.customer_id is not None
        buckets = self.buckets.setdefault(m.customer_id, {})
        bucket = buckets.setdefault((hour_of(m.at), m.account_id), [0] * len(TALLIED))
        for i, name in enumerate(TALLIED):
            bucket[i] += sums[name]

    def rows(self) -> list[dict[str, Any]]:
        """Each bucket's increments, in the buckets' order (two PostgreSQL consumers adding
        to the same buckets wait, not deadlock); none for a bucket they leave as it was."""
        rows = [
            {"customer_id": customer, "hour": hour, "account_id": account, **dict(zip(TALLIED, sums, strict=True))}
            for customer, buckets in self.buckets.items()
            for (hour, account), sums in buckets.items()
            if any(sums)
        ]
        return sorted(rows, key=itemgetter("customer_id", "hour", "account_id"))

    def signals(
        self, customer_id: str, account_id: str, day: Direction | None, days: range, rapid: int | None
    ) -> dict[str, int]:
        """The customer's held increments to the sums store.signals reads from buckets: the
        hours `days` (all accounts) for the `day` direction's, the account's hours from
        `rapid` on for the rapid window's whole hours."""
        found: dict[str, int] = {}
        if day is not None:
            found = {"cash_day_minor": 0, "transfers_day_minor": 0}
        if rapid is not None:
            found |= {"rapid_in_count": 0, "rapid_in_minor": 0, "rapid_out_minor": 0}
        for (hour, account), sums in self.buckets.get(customer_id, {}).items():
            if day is not None and hour in days:
                found["cash_day_minor"] += sums[_CASH[day]]
                found["transfers_day_minor"] += sums[_TRANSFERS[day]]
            if rapid is not None and hour >= rapid and account == account_id:
                found["rapid_in_count"] += sums[_RAPID_IN_COUNT]
                found["rapid_in_minor"] += sums[_RAPID_IN]
                found["rapid_out_minor"] += sums[_RAPID_OUT]
        return found


_CASH = {d: TALLIED.index(f"cash_{d}_minor") for d in Direction}
_TRANSFERS = {d: TALLIED.index(f"transfers_{d}_minor") for d in Direction}
_RAPID_IN_COUNT, _RAPID_IN, _RAPID_OUT = (TALLIED.index(f"rapid_{n}") for n in ("in_count", "in_minor", "out_minor"))


def evidence_row(m: Movement) -> dict[str, Any]:
    """`m` as an alert's evidence: movement_row's fields, its time in ISO text (JSON)."""
    return movement_row(m) | {"at": m.at.isoformat()}


def movement_row(m: Movement) -> dict[str, Any]:
    """`m` as a row of the movement table."""
    return {
        "id": m.id,
        "at": m.at,
        "account_id": m.account_id,
        "customer_id": m.customer_id,
        "direction": str(m.direction),
        "kind": str(m.kind),
        "amount_minor": m.amount_minor,
        "currency": m.currency,
        "counterparty_account_id": m.counterparty_account_id,
        "counterparty_customer_id": m.counterparty_customer_id,
    }


# The columns a Movement is read back from, in its fields' order.
_MOVEMENT_COLUMNS = (
    "id",
    "at",
    "account_id",
    "customer_id",
    "direction",
    "kind",
    "amount_minor",
    "currency",
    "counterparty_account_id",
    "counterparty_customer_id",
)


def _movement_of(values: tuple[Any, ...]) -> Movement:
    """A Movement from _MOVEMENT_COLUMNS' values, in that order."""
    i, at, account, customer, direction, kind, amount, currency, other, other_customer = values
    return Movement(i, at, account, customer, Direction(direction), Kind(kind), amount, currency, other, other_customer)


async def movements_since(
    session: AsyncSession, t: ComplianceTables, customer_id: str, since: datetime
) -> list[Movement]:
    """The customer's movements from `since` on, oldest first."""
    rows = await session.execute(
        select(*(t.movement.c[name] for name in _MOVEMENT_COLUMNS))
        .where(t.movement.c.customer_id == customer_id, t.movement.c.at >= since)
        .order_by(t.movement.c.at, t.movement.c.id)
    )
    return [_movement_of(tuple(row)) for row in rows]


def covered_rows(alert_id: str, finding: Finding, at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "movement_id": m.id,
            "rule": str(finding.rule),
            "alert_id": alert_id,
            "customer_id": finding.customer_id,
            "created_at": at,
        }
        for m in finding.movements
    ]


async def covered(
    session: AsyncSession, t: ComplianceTables, customer_id: str, since: datetime
) -> dict[Rule, frozenset[str]]:
    """The movements each rule already raised on for the customer, in alerts from `since` on."""
    rows = await session.execute(
        select(t.covered.c.rule, t.covered.c.movement_id).where(
            t.covered.c.customer_id == customer_id, t.covered.c.created_at >= since
        )
    )
    found: dict[Rule, set[str]] = {}
    for rule, movement_id in rows:
        found.setdefault(Rule(rule), set()).add(movement_id)
    return {rule: frozenset(ids) for rule, ids in found.items()}


@cache
def _signals_query(t: ComplianceTables, day: Direction | None, rapid: bool, payers: bool) -> Select[Any]:
    """The prefilter's query for the sums a movement needs, built once per shape (building a
    statement costs more than running it); the movement's values are its parameters. It
    runs as a QuickSelect, hence equalities rather than an IN of a list. It reads the
    tally's buckets for the day and the rapid window, and movements only at the rapid
    window's start (within its first hour), and those a rule may still read: its cost does
    not grow with the customer's history in the windows."""
    m, cov, tally = t.movement, t.covered, t.tally
    customer = bindparam("customer_id", type_=String)
    since = bindparam("since", type_=UtcDateTime)
    # Every window is within the lookback: its own start bounds the movements read.
    account = [m.c.customer_id == customer, m.c.account_id == bindparam("account_id")]
    yuan = m.c.currency == CNY  # many payers counts payers in any currency

    def covered(rule: Rule) -> ColumnElement[bool]:
        # By the coverage rows' key: a movement's rows are all its customer's (naming the
        # customer here led SQLite to scan the customer's coverage rows for each movement).
        return exists().where(cov.c.movement_id == m.c.id, cov.c.rule == str(rule), cov.c.created_at >= since)

    def state(rule: Rule, *states: int) -> ColumnElement[bool]:
        # Constants, so the plan reads the state's index with the account (and no list to bind).
        return m.c[STATE_COLUMNS[rule]].in_([literal_column(str(s)) for s in states])

    def total(column: Any) -> Any:
        return func.coalesce(func.sum(column), 0)

    def total_if(condition: ColumnElement[bool]) -> Any:
        return total(case((condition, m.c.amount_minor), else_=0))

    parts = []
    if day is not None:
        parts.append(
            select(
                total(tally.c[f"cash_{day}_minor"]).label("cash_day_minor"),
                total(tally.c[f"transfers_{day}_minor"]).label("transfers_day_minor"),
            )
            .where(
                tally.c.customer_id == customer,
                tally.c.hour >= bindparam("day_start"),
                tally.c.hour < bindparam("day_end"),
            )
            .subquery("day")
        )
    columns: list[Any] = []
    if rapid:
        # The window's whole hours from their buckets, which leave out what is COVERED; the
        # movements before the first whole hour as the rule reads them; less those in the
        # whole hours covered only by an alert raised before them that counts here.
        into = m.c.direction == str(Direction.IN)
        whole = (
            select(
                total(tally.c.rapid_in_count).label("in_count"),
                total(tally.c.rapid_in_minor).label("in_minor"),
                total(tally.c.rapid_out_minor).label("out_minor"),
            )
            .where(
                tally.c.customer_id == customer,
                tally.c.hour >= bindparam("rapid_hour"),
                tally.c.account_id == bindparam("account_id"),
            )
            .subquery("whole")
        )
        sums = (
            func.count(case((into, 1))).label("in_count"),
            total_if(into).label("in_minor"),
            total_if(m.c.direction == str(Direction.OUT)).label("out_minor"),
        )
        rapid_hour_at = bindparam("rapid_hour_at", type_=UtcDateTime)
        start = (
            select(*sums)
            .where(
                *account,
                state(Rule.RAPID_IN_OUT, UNCOVERED, COVERED_BEFORE),
                m.c.at >= bindparam("rapid_since", type_=UtcDateTime),
                m.c.at < rapid_hour_at,
                yuan,
                ~covered(Rule.RAPID_IN_OUT),
            )
            .subquery("start")
        )
        late = (
            select(*sums)
            .where(
                *account,
                state(Rule.RAPID_IN_OUT, COVERED_BEFORE),
                m.c.at >= rapid_hour_at,
                yuan,
                covered(Rule.RAPID_IN_OUT),
            )
            .subquery("late")
        )
        parts += [whole, start, late]
        columns += [
            (whole.c[name] + start.c[name] - late.c[name]).label(f"rapid_{name}")
            for name in ("in_count", "in_minor", "out_minor")
        ]
    if payers:
        parts.append(
            select(func.count(distinct(m.c.counterparty_customer_id)).label("other_payers"))
            .where(
                *account,
                state(Rule.MANY_PAYERS, UNCOVERED, COVERED_BEFORE),
                m.c.at >= bindparam("payers_since", type_=UtcDateTime),
                m.c.direction == str(Direction.IN),
                m.c.kind == str(Kind.TRANSFER),
                m.c.counterparty_customer_id.is_not(None),
                m.c.counterparty_customer_id != bindparam("payer"),
                ~covered(Rule.MANY_PAYERS),
            )
            .subquery("payers")
        )
    joined: FromClause = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, true())  # each part is one row: the join is that row
    if day is not None:
        columns[:0] = list(parts[0].c)
    if payers:
        columns.append(parts[-1].c.other_payers)
    return select(*columns).select_from(joined)


@lru_cache(maxsize=8)
def _day_hours(bank_day: date) -> tuple[int, int]:
    """The first bucket of the bank day, and the first after it (the movements of a batch
    fall on a day or two: its time-zone arithmetic is done once for them)."""
    start = datetime.combine(bank_day, time(), BANK_TZ)
    end = datetime.combine(bank_day + timedelta(days=1), time(), BANK_TZ)
    return hour_of(start), hour_of(end)


@cache
def _names(query: Select[Any]) -> tuple[str, ...]:
    """The names of a prefilter query's columns (its `selected_columns` are built anew on each read)."""
    return tuple(query.selected_columns.keys())


async def signals(
    db: Database,
    tx: Transactional,
    t: ComplianceTables,
    new: Movement,
    th: Thresholds,
    unwritten: Tallies | None = None,
) -> Signals:
    """rules.signals_of over what `movements_since` and `covered` would read for `new`, summed
    by the database in one query: no row comes back. In the unit of work's transaction, through
    db's QuickSelect (each movement of a batch runs it: on inline SQLite, SQLAlchemy's
    per-statement work would cost several times the query). The movements' coverage states
    it reads are written with the movements and the alerts, the tally's increments held
    until the transaction commits (`unwritten`, added here) (ComplianceBatch): what it
    reads is what the rules would, to the fen."""
    day = new.direction if new.kind in CASH_KINDS or new.counts_as_transfer else None
    rapid = new.direction is Direction.OUT
    payers = new.direction is Direction.IN and new.kind is Kind.TRANSFER and new.two_sided
    if not (day is not None or rapid or payers):
        return Signals()
    assert new.customer_id is not None
    rapid_since = new.at - timedelta(hours=th.rapid_window_h)
    rapid_hour = hour_after(rapid_since)
    day_start, day_end = _day_hours(new.bank_day)
    params = {
        "customer_id": new.customer_id,
        "since": new.at - th.lookback,
        "account_id": new.account_id,
        "day_start": day_start,
        "day_end": day_end,
        "rapid_since": rapid_since,
        "rapid_hour": rapid_hour,
        "rapid_hour_at": EPOCH + rapid_hour * HOUR,
        "payers_since": new.at - timedelta(hours=th.many_payers_window_h),
        "payer": new.counterparty_customer_id,
    }
    query = _signals_query(t, day, rapid, payers)  # what it does not name, it does not read
    (row,) = await db.quick_select(query).within(tx, **params)
    found = {key: int(value) for key, value in zip(_names(query), row, strict=True)}
    if unwritten is not None:
        held = unwritten.signals(
            new.customer_id, new.account_id, day, range(day_start, day_end), rapid_hour if rapid else None
        )
        for key, value in held.items():
            found[key] += value
    return Signals(**found)


@cache
def _payments_into_query(t: ComplianceTables) -> Select[Any]:
    m, cov = t.movement, t.covered
    customer = bindparam("customer_id", type_=String)
    since = bindparam("since", type_=UtcDateTime)
    covered = exists().where(
        cov.c.movement_id == m.c.id, cov.c.rule == str(Rule.MANY_PAYERS), cov.c.created_at >= since
    )
    return (
        select(*(m.c[name] for name in _MOVEMENT_COLUMNS)).where(
            m.c.customer_id == customer,
            m.c.at >= since,
            m.c.account_id == bindparam("account_id"),
            m.c.at >= bindparam("payers_since", type_=UtcDateTime),
            m.c.direction == str(Direction.IN),
            m.c.kind == str(Kind.TRANSFER),
            m.c.counterparty_customer_id.is_not(None),
            # Constants, as in the prefilter's query: no list to bind.
            m.c.payers_state.in_([literal_column(str(s)) for s in (UNCOVERED, COVERED_BEFORE)]),
            ~covered,
        )
        # No ORDER BY: for one, SQLite's planner read the customer's movements by time,
        # every one of the lookback, and still sorted the few left. Without it, it reads
        # the state's index: only the movements many payers has not done with, sorted by
        # payments_into.
    )


async def payments_into(
    db: Database, tx: Transactional, t: ComplianceTables, new: Movement, th: Thresholds
) -> list[Movement]:
    """rules.payers_history's movements for `new`, oldest first: the uncovered transfers from
    other customers into its account within the many-payers window (a few, whatever the
    customer's history: an alert covers them). Read through db's QuickSelect in the
    unit of work's transaction, as store.signals is: a transfer in that the prefilter lets
    through reads it, and through the session its statement's compiling cost ten times
    the query."""
    rows = await db.quick_select(_payments_into_query(t)).within(
        tx,
        customer_id=new.customer_id,
        since=new.at - th.lookback,
        account_id=new.account_id,
        payers_since=new.at - timedelta(hours=th.many_payers_window_h),
    )
    return [_movement_of(row) for row in sorted(rows, key=_TIME_AND_ID)]


# A movement row's order: by time, then id (its `at`, UTC on every backend, and its `id`).
_TIME_AND_ID = itemgetter(1, 0)


@cache
def _alert_by_key(t: ComplianceTables) -> Select[Any]:
    return select(t.alert.c.id).where(t.alert.c.dedup_key == bindparam("key"))


async def alert_exists(db: Database, tx: Transactional, t: ComplianceTables, key: str) -> bool:
    """Whether an alert has `key`, those raised earlier in the transaction too."""
    return bool(await db.quick_select(_alert_by_key(t)).within(tx, key=key))


# --- a transaction's working set ------------------------------------------------------


@dataclass
class Account:
    """A customer's account as AccountOpened told it, and when it last moved."""

    account_id: str
    customer_id: str | None
    kind: str
    currency: str
    opened_at: datetime
    last_movement_at: datetime | None = None

    @property
    def last_active_at(self) -> datetime:
        return self.last_movement_at or self.opened_at


# The fields of the ledger's facts that name an account (AccountOpened, AccountCredited,
# HoldCaptured, FundsTransferred).
_ACCOUNT_FIELDS = ("account_id", "source_account_id", "target_account_id", "to_account_id")


@cache
def _fields(kind: type[Message], names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `names` that the message class `kind` has: pydantic answers a read of a
    field a message lacks with a raised AttributeError, dearer than reading ten fields."""
    return tuple(name for name in names if name in kind.model_fields)


@cache
def _accounts_query(t: ComplianceTables) -> Select[Any]:
    """A batch's accounts by id, their columns in Account's order (a QuickSelect)."""
    return select(t.account).where(t.account.c.account_id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class _Writes:
    account: Executable
    last_movement: Executable
    movement: Executable
    alert: Executable
    covered: Executable
    tally: Executable  # adds to a bucket, creating it if need be
    state: Mapping[Rule, Executable]  # raises a movement's coverage state for the rule


@cache
def _writes(t: ComplianceTables, sqlite: bool) -> _Writes:
    """The consumer's writes, built once per tables and dialect: a staged statement, and a
    QuickWrite's compiled SQL, are known by the statement's identity."""
    last_movement = (
        update(t.account)
        .where(t.account.c.account_id == bindparam("b_account_id"))
        .values(last_movement_at=bindparam("b_last_movement_at"))
    )
    upsert = (sqlite_insert if sqlite else pg_insert)(t.tally)
    added = {name: t.tally.c[name] + upsert.excluded[name] for name in TALLIED}
    tally = upsert.on_conflict_do_update(index_elements=list(t.tally.primary_key), set_=added)
    state = {
        rule: update(t.movement)
        .where(t.movement.c.id == bindparam("b_id"), t.movement.c[column] < bindparam("b_state"))
        .values({column: bindparam("b_state")})
        for rule, column in STATE_COLUMNS.items()
    }
    inserts = (insert(t.account), last_movement, insert(t.movement), insert(t.alert), insert(t.covered))
    return _Writes(*inserts, tally, state)


async def add_alert(
    db: Database, tx: Transactional, t: ComplianceTables, alert: dict[str, Any], covered: list[dict[str, Any]]
) -> None:
    """An alert and the movements it covers, written at once: the rules' later queries in the
    transaction read them."""
    await db.quick_write(_writes(t, db.sqlite).alert).run(tx, [alert])
    await db.quick_write(_writes(t, db.sqlite).covered).run(tx, covered)


async def write_movements(
    db: Database,
    tx: Transactional,
    t: ComplianceTables,
    movements: Sequence[tuple[Movement, dict[str, int]]],
    tallies: Tallies,
) -> None:
    """(movement, its coverage states) pairs written, and added to their buckets' `tallies`."""
    await db.quick_write(_writes(t, db.sqlite).movement).run(tx, [movement_row(m) | s for m, s in movements])
    for m, states in movements:
        tallies.add(m, tally_of(m, states["rapid_state"]))


async def cover_written(
    db: Database,
    tx: Transactional,
    t: ComplianceTables,
    rule: Rule,
    movements: Sequence[tuple[Movement, int]],
    tallies: Tallies,
) -> None:
    """Written movements (each with the state an alert of `rule` leaves it in) covered: their
    state raised, and what a rapid-in-out alert now COVERS taken out of their buckets' `tallies`."""
    raise_state = db.quick_write(_writes(t, db.sqlite).state[rule])
    # What a rapid-in-out alert now COVERS leaves its bucket if the bucket counted it: each
    # such movement's own UPDATE tells. The others' states are raised in one statement.
    leaving: list[Movement] = []
    others: list[dict[str, Any]] = []
    for m, state in movements:
        if state == COVERED and rule is Rule.RAPID_IN_OUT:
            leaving.append(m)
        else:
            others.append({"b_id": m.id, "b_state": state})
    await raise_state.run(tx, others)
    for m in leaving:
        if await raise_state.run(tx, [{"b_id": m.id, "b_state": COVERED}]):
            counted, left = tally_of(m, UNCOVERED), tally_of(m, COVERED)
            tallies.add(m, {name: left[name] - counted[name] for name in TALLIED})


def stage_tallies(uow: UnitOfWork, t: ComplianceTables, tallies: Tallies) -> None:
    """`tallies` added to their buckets when `uow` commits, one upsert per bucket."""
    tally = _writes(t, uow.db.sqlite).tally
    for row in tallies.rows():
        uow.stage(tally, row)


class ComplianceBatch(Batch):
    """What one transaction of the AML consumer touches, handed to each of its handlers.

    The accounts its facts name are read in one query (`load`); an account opened in the
    batch is known to the facts after it at once. Each movement is evaluated as it comes,
    then kept in memory (`recorded`) and written at `write`, all in one executemany, with
    each account's last movement time written once. The rules' queries (store.signals and
    the history reads) must still see the movements recorded before in the batch, or ten
    transfers in one batch would not find what ten in ten batches do: `flush` writes the
    pending movements before those queries when the customer has any among them. Every
    one of those queries is about one customer, so the other customers' pending
    movements go in the same statement: what their own queries read later is the same,
    and a batch of transfers between a hundred customers makes a few writes, not one
    for nearly every movement. Summing the pending movements in memory into
    the database's signals instead would not do: distinct payers do not add up, and an
    alert raised in the batch changes what is covered. An alert on a windowed rule raises
    its movements' coverage states as it is raised (`cover`). The tally's increments, from
    movements written and alerts covering them, are pure sums: they are held in memory
    (`tallies`), added to what store.signals reads, and written once per bucket at the
    end. So what store.signals reads changes with what the rules read, in the same
    transaction."""

    def __init__(self, uow: UnitOfWork, tables: ComplianceTables) -> None:
        super().__init__(uow)
        # The batch's quick reads and writes run in the unit of work's transaction without
        # opening its session (on inline SQLite).
        self.tx: Transactional = uow.transaction
        self.tables = tables
        self.accounts: dict[str, Account | None] = {}  # None: not a customer's account
        self.opened: list[Account] = []
        # When each loaded account had last moved, to write back only what changed.
        self.loaded_active: dict[str, datetime | None] = {}
        # Movements evaluated but not written yet, with their coverage states, and their customers.
        self.pending: list[tuple[Movement, dict[str, int]]] = []
        self.pending_customers: set[str] = set()
        # The coverage states alerts left the movement being evaluated in (it is written later).
        self.states: dict[str, dict[str, int]] = {}
        # What the movements written so far, and the alerts covering them, add to the tally.
        self.tallies = Tallies()

    async def load(self, messages: Sequence[Any]) -> None:
        ids = {
            i for m in messages for name in _fields(m.__class__, _ACCOUNT_FIELDS) if (i := getattr(m, name)) is not None
        }
        if not ids:
            return
        self.accounts = dict.fromkeys(ids)
        for row in await self.uow.db.quick_select(_accounts_query(self.tables)).within(self.tx, ids=sorted(ids)):
            account = self.accounts[row[0]] = Account(*row)
            self.loaded_active[account.account_id] = account.last_movement_at

    def open(self, account: Account) -> None:
        self.accounts[account.account_id] = account
        self.opened.append(account)

    def recorded(self, movements: Sequence[Movement]) -> None:
        """`movements`, evaluated: to be written, and their accounts active at their time."""
        for m in movements:
            assert m.customer_id is not None
            states = fresh_states(m) | self.states.pop(m.id, {})
            self.pending.append((m, states))
            self.pending_customers.add(m.customer_id)
            account = self.accounts[m.account_id]
            assert account is not None
            account.last_movement_at = m.at

    async def flush(self, customer_id: str) -> None:
        """Write the movements recorded earlier in this batch if the customer has any among them."""
        if customer_id in self.pending_customers:
            movements, self.pending = self.pending, []
            self.pending_customers.clear()
            await write_movements(self.uow.db, self.tx, self.tables, movements, self.tallies)

    async def cover(self, finding: Finding, at: datetime, new: Movement) -> None:
        """The coverage states an alert raised at `at` on `finding` leaves its movements in,
        for the rules the prefilter reads windows of: `new`'s kept until it is written, the
        others' (all written: the customer's pending movements are flushed before `new`
        is evaluated) updated now."""
        column = STATE_COLUMNS.get(finding.rule)
        if column is None:
            return
        written = []
        for m in finding.movements:
            state = COVERED if m.at <= at else COVERED_BEFORE
            if m.id == new.id:
                states = self.states.setdefault(m.id, {})
                states[column] = max(states.get(column, UNCOVERED), state)
            else:
                written.append((m, state))
        await cover_written(self.uow.db, self.tx, self.tables, finding.rule, written, self.tallies)

    async def write(self) -> None:
        writes = _writes(self.tables, self.uow.db.sqlite)
        for a in self.opened:
            self.uow.stage(writes.account, vars(a).copy())
        # In the accounts' order: two PostgreSQL consumers updating the same accounts wait
        # for each other rather than deadlock.
        for account_id, was in sorted(self.loaded_active.items()):
            now = self.accounts[account_id]
            assert now is not None
            if now.last_movement_at != was:
                row = {"b_account_id": account_id, "b_last_movement_at": now.last_movement_at}
                self.uow.stage(writes.last_movement, row)
        for m, states in self.pending:
            self.uow.stage(writes.movement, movement_row(m) | states)
            self.tallies.add(m, tally_of(m, states["rapid_state"]))
        stage_tallies(self.uow, self.tables, self.tallies)
