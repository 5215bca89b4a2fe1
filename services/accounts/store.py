"""accounts tables and the queries the handlers need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.accounts import domain
from shared.db import UtcDateTime, new_base
from shared.kafka.messaging import messaging_tables

Base = new_base()
messaging = messaging_tables(Base.metadata)


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kyc_class: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


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


# --- loading and storing domain objects ---------------------------------------------


@dataclass
class Batch:
    """What one batch of commands touches, loaded up front (and locked, on PostgreSQL).

    A key present with None is a known miss: no second query for it."""

    accounts: dict[str, tuple[Account, str | None] | None] = field(default_factory=dict)
    holds: dict[str, Hold | None] = field(default_factory=dict)
    outcomes: dict[tuple[str, str], CommandOutcome | None] = field(default_factory=dict)
    # Daily limits. A customer's limit-counting holds are those this batch holds in
    # memory (`holds_of`, always current) plus the database's others (`held_elsewhere`),
    # so the daily outflow is read without flushing the batch's changes first.
    holds_of: dict[str, dict[str, Hold]] = field(default_factory=dict)
    held_elsewhere: dict[str, int] = field(default_factory=dict)
    outflow: dict[tuple[str, date], DailyOutflow | None] = field(default_factory=dict)

    def track(self, hold: Hold, *, loaded: bool) -> None:
        """Keep `hold` (`loaded` from the database, or new in this batch) in memory."""
        self.holds[hold.id] = hold
        if hold.customer_id is None:
            return
        self.holds_of.setdefault(hold.customer_id, {})[hold.id] = hold
        if loaded and hold.customer_id in self.held_elsewhere and _counts(hold):
            # Loaded after its customer's other holds were summed: it was among them.
            self.held_elsewhere[hold.customer_id] -= hold.amount_minor


def _counts(hold: Hold) -> bool:
    return hold.status == domain.HoldStatus.ACTIVE and bool(hold.counts_toward_limit)


def batch_of(session: AsyncSession) -> Batch:
    batch = session.info.get("batch")
    if batch is None:
        batch = session.info["batch"] = Batch()
    return batch  # type: ignore[no-any-return]


async def prefetch(session: AsyncSession, commands: list[Any], *, day: date | None = None) -> None:
    """Load every hold, account, customer class, command outcome and (given the bank
    `day`) daily-limit figure a batch touches in a few queries, not several per command."""
    batch = batch_of(session)
    hold_ids = {c.hold_id for c in commands if hasattr(c, "hold_id")}
    account_ids: set[str] = set()
    references: set[str] = set()
    for c in commands:
        account_ids.add(c.account_id)
        for attr in ("target_account_id", "to_account_id", "source_account_id"):
            if (other := getattr(c, attr, None)) is not None:
                account_ids.add(other)
        for attr in ("credit_id", "transfer_id"):
            if (ref := getattr(c, attr, None)) is not None:
                references.add(ref)
    if hold_ids:
        found = (await session.scalars(select(Hold).where(Hold.id.in_(hold_ids)).with_for_update())).all()
        for hold_id in hold_ids:
            batch.holds.setdefault(hold_id, None)
        for h in found:
            batch.track(h, loaded=True)
        account_ids.update(h.account_id for h in found)
    await _load_into(session, batch, account_ids)
    if day is not None:
        customers = {found[0].customer_id for found in batch.accounts.values() if found and found[0].customer_id}
        await _load_limits(session, batch, customers, day)
    if references:
        found_outcomes = (
            await session.scalars(select(CommandOutcome).where(CommandOutcome.reference.in_(references)))
        ).all()
        by_key = {(o.kind, o.reference): o for o in found_outcomes}
        for ref in references:
            for kind in ("credit", "transfer"):
                batch.outcomes[(kind, ref)] = by_key.get((kind, ref))


async def _load_into(session: AsyncSession, batch: Batch, ids: set[str]) -> None:
    missing = sorted(i for i in ids if i not in batch.accounts)
    if not missing:
        return
    rows = (
        await session.execute(
            select(Account, Customer.kyc_class)
            .outerjoin(Customer, Customer.id == Account.customer_id)
            .where(Account.id.in_(missing))
            .order_by(Account.id)
            .with_for_update(of=Account)
        )
    ).all()
    found = {a.id: (a, kyc) for a, kyc in rows}
    batch.accounts.update({i: found.get(i) for i in missing})


async def _load_limits(session: AsyncSession, batch: Batch, customers: set[str], day: date) -> None:
    """Today's outflow rows (locked, on PostgreSQL) and the limit-counting holds the batch
    does not hold in memory, for `customers` not loaded yet."""
    missing = sorted(c for c in customers if c not in batch.held_elsewhere)
    if not missing:
        return
    with session.no_autoflush:  # other holds' rows are untouched by this batch
        held = dict(
            (
                await session.execute(
                    select(Hold.customer_id, func.sum(Hold.amount_minor))
                    .where(
                        Hold.customer_id.in_(missing),
                        Hold.status == domain.HoldStatus.ACTIVE,
                        Hold.counts_toward_limit.is_(True),
                        Hold.id.not_in([h for c in missing for h in batch.holds_of.get(c, {})]),
                    )
                    .group_by(Hold.customer_id)
                )
            ).all()
        )
        rows = (
            await session.scalars(
                select(DailyOutflow)
                .where(DailyOutflow.customer_id.in_(missing), DailyOutflow.day == day)
                .with_for_update()
            )
        ).all()
    by_customer = {r.customer_id: r for r in rows}
    for c in missing:
        batch.held_elsewhere[c] = int(held.get(c) or 0)
        batch.outflow.setdefault((c, day), by_customer.get(c))


async def get_hold(session: AsyncSession, hold_id: str) -> Hold | None:
    batch = batch_of(session)
    if hold_id not in batch.holds:
        found = await session.get(Hold, hold_id, with_for_update=True)
        batch.holds[hold_id] = found
        if found is not None:
            batch.track(found, loaded=True)
    return batch.holds[hold_id]


def add_hold(session: AsyncSession, row: Hold) -> None:
    """A new hold (never in the database before this batch)."""
    session.add(row)
    batch_of(session).track(row, loaded=False)


async def account_row(session: AsyncSession, account_id: str) -> Account | None:
    batch = batch_of(session)
    await _load_into(session, batch, {account_id})
    found = batch.accounts[account_id]
    return found[0] if found else None


async def get_outcome(session: AsyncSession, kind: str, reference: str) -> CommandOutcome | None:
    batch = batch_of(session)
    if (kind, reference) not in batch.outcomes:
        batch.outcomes[(kind, reference)] = await session.get(CommandOutcome, (kind, reference))
    return batch.outcomes[(kind, reference)]


def add_outcome(session: AsyncSession, row: CommandOutcome) -> None:
    session.add(row)
    batch_of(session).outcomes[(row.kind, row.reference)] = row


async def load_accounts(session: AsyncSession, ids: list[str]) -> dict[str, domain.Account]:
    """Accounts as domain objects (locked on PostgreSQL; SQLite has one writer)."""
    batch = batch_of(session)
    await _load_into(session, batch, set(ids))
    loaded = {}
    for account_id in ids:
        found = batch.accounts[account_id]
        if found is None:
            continue
        a, kyc = found
        loaded[a.id] = domain.Account(
            id=a.id,
            currency=a.currency,
            balance_minor=a.balance_minor,
            held_minor=a.held_minor,
            customer_id=a.customer_id,
            kyc_class=domain.KycClass(kyc) if kyc else None,
            allow_overdraft=a.allow_overdraft,
        )
    return loaded


async def save_accounts(session: AsyncSession, accounts: list[domain.Account]) -> None:
    """Write changed balances onto the loaded rows; the unit of work flushes them together."""
    batch = batch_of(session)
    for a in accounts:
        found = batch.accounts.get(a.id)
        assert found is not None, f"account {a.id} saved without being loaded"
        row = found[0]
        row.balance_minor, row.held_minor = a.balance_minor, a.held_minor


async def outflow_today(session: AsyncSession, customer_id: str | None, day: date) -> int:
    """Paid out today plus what active holds toward the limit have reserved, as of this
    point in the batch (its own unflushed changes included)."""
    if customer_id is None:
        return 0
    batch = batch_of(session)
    await _load_limits(session, batch, {customer_id}, day)
    if (customer_id, day) not in batch.outflow:  # the bank day turned during the batch
        batch.outflow[(customer_id, day)] = await session.get(DailyOutflow, (customer_id, day), with_for_update=True)
    row = batch.outflow[(customer_id, day)]
    held = batch.held_elsewhere[customer_id] + sum(
        h.amount_minor for h in batch.holds_of.get(customer_id, {}).values() if _counts(h)
    )
    return (row.amount_minor if row else 0) + held


async def add_outflow(session: AsyncSession, customer_id: str | None, day: date, amount: int) -> None:
    """Count `amount` toward today's outflow; written with the rest of the batch."""
    if customer_id is None or amount <= 0:
        return
    batch = batch_of(session)
    if (customer_id, day) not in batch.outflow:
        batch.outflow[(customer_id, day)] = await session.get(DailyOutflow, (customer_id, day), with_for_update=True)
    row = batch.outflow[(customer_id, day)]
    if row is None:
        row = batch.outflow[(customer_id, day)] = DailyOutflow(customer_id=customer_id, day=day, amount_minor=0)
        session.add(row)
    row.amount_minor += amount


async def post(
    session: AsyncSession,
    posting: domain.Posting,
    accounts: dict[str, domain.Account],
    *,
    entry_id: str,
    kind: str,
    reference: str,
    description: str,
    correlation_id: str | None,
    now: datetime,
) -> None:
    """Write a journal entry and its lines, and the accounts' new balances."""
    session.add(
        JournalEntry(
            id=entry_id,
            kind=kind,
            reference=reference,
            description=description[:200],
            correlation_id=correlation_id,
            created_at=now,
        )
    )
    ids = [line.account_id for line in posting.lines]
    for i, line in enumerate(posting.lines):
        counterparty = ids[1 - i] if len(ids) == 2 else None
        session.add(
            JournalLine(
                entry_id=entry_id,
                account_id=line.account_id,
                counterparty_account_id=counterparty,
                amount_minor=line.amount_minor,
                currency=line.currency,
                balance_after_minor=accounts[line.account_id].balance_minor,
                created_at=now,
            )
        )
    # No flush: the unit of work inserts the entry before its lines (foreign key order).
    await save_accounts(session, [accounts[i] for i in dict.fromkeys(ids)])


def hold_to_domain(row: Hold) -> domain.Hold:
    return domain.Hold(
        id=row.id,
        account_id=row.account_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        status=domain.HoldStatus(row.status),
        counts_toward_limit=row.counts_toward_limit,
    )
