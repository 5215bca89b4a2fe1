"""securities tables and the queries the handlers need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.securities import domain
from services.securities.domain import sagas
from services.securities.domain.portfolio import OrderStatus
from shared.db import Database, UtcDateTime, naming_metadata, table_of
from shared.kafka.messaging import messaging_tables
from shared.migrations import Migrations
from shared.saga.model import CANCELLED, COMPLETED, FAILED
from shared.saga.store import SagaColumns


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))


class Order(SagaColumns, Base):
    """An order and its saga (shared.saga): `step` names the command awaiting accounts'
    answer, or `rest` while it waits on the market; its public status follows from the
    step and the outcome (`domain.order_status`)."""

    __tablename__ = "security_order"
    __table_args__ = (
        # A retried POST (same Idempotency-Key) finds the order it already made.
        UniqueConstraint("customer_id", "idempotency_key", name="uq_security_order_customer_key"),
        # The matcher's scan: orders resting on the market, by symbol.
        Index("ix_security_order_step_symbol", "step", "symbol"),
        Index("ix_security_order_customer_seq", "customer_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(12))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(6))
    quantity: Mapped[int] = mapped_column(BigInteger)
    limit_price_milli: Mapped[int | None] = mapped_column(BigInteger)
    reserved_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    bank_day: Mapped[date] = mapped_column(Date)
    # The execution, once the market matched the order.
    trade_day: Mapped[date | None] = mapped_column(Date)
    fill_price_milli: Mapped[int | None] = mapped_column(BigInteger)
    gross_minor: Mapped[int | None] = mapped_column(BigInteger)
    commission_minor: Mapped[int | None] = mapped_column(BigInteger)
    stamp_duty_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    realised_pnl_minor: Mapped[int | None] = mapped_column(BigInteger)
    matched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Partial fills: the execution columns above total the fills settled so far
    # (`fill_price_milli` their average); `pending_fills` is the batch the market matched
    # that accounts is settling now; `leg` numbers the hold (buy) or credit (sell) in use.
    filled_quantity: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    leg: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    pending_fills: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class Trade(Base):
    """A trade confirmation (成交回报, the contract note): one per settled fill, kept for
    good, so a sale's realised P&L outlives the position it closed."""

    __tablename__ = "trade"
    __table_args__ = (
        Index("ix_trade_customer_seq", "customer_id", "seq"),
        Index("ix_trade_customer_symbol_day", "customer_id", "symbol", "trade_day"),
        Index("ix_trade_order_id", "order_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    # An order filled in parts has a trade per part.
    order_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(12))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price_milli: Mapped[int] = mapped_column(BigInteger)
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    stamp_duty_minor: Mapped[int] = mapped_column(BigInteger)
    transfer_fee_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)  # paid (buy, fees in) or received (sell, fees out)
    realised_pnl_minor: Mapped[int | None] = mapped_column(BigInteger)  # sells only
    trade_day: Mapped[date] = mapped_column(Date)
    traded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MarketBar(Base):
    """A symbol's daily bar as the simulated market traded it (today's is rewritten as the
    day goes on, `complete` once the day has rolled)."""

    __tablename__ = "market_bar"

    symbol: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    open_milli: Mapped[int] = mapped_column(BigInteger)
    high_milli: Mapped[int] = mapped_column(BigInteger)
    low_milli: Mapped[int] = mapped_column(BigInteger)
    close_milli: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[int] = mapped_column(BigInteger)
    turnover_minor: Mapped[int] = mapped_column(BigInteger)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class MarketTick(Base):
    """A trade of the simulated market, kept for `SECURITIES_TICK_RETENTION_DAYS` trading days."""

    __tablename__ = "market_tick"
    __table_args__ = (Index("ix_market_tick_symbol_day", "symbol", "day", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(12))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    price_milli: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[int] = mapped_column(BigInteger)


class BoardPermission(Base):
    """A board the customer is enabled to buy on (权限开通: STAR, ChiNext, ST)."""

    __tablename__ = "board_permission"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    board: Mapped[str] = mapped_column(String(12), primary_key=True)
    enabled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Position(Base):
    __tablename__ = "position"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(12), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    frozen: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    realised_pnl_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    unsettled_day: Mapped[date | None] = mapped_column(Date)
    unsettled_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BankTransfer(SagaColumns, Base):
    """A bank-securities transfer and its one-step saga (shared.saga)."""

    __tablename__ = "bank_transfer"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key", name="uq_bank_transfer_customer_key"),
        Index("ix_bank_transfer_customer_seq", "customer_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(20))
    from_account_id: Mapped[str] = mapped_column(String(64))
    to_account_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


# --- queries ------------------------------------------------------------------------------


async def order_for_update(session: AsyncSession, order_id: str) -> Order | None:
    return await session.scalar(select(Order).where(Order.id == order_id).with_for_update())


async def transfer_for_update(session: AsyncSession, transfer_id: str) -> BankTransfer | None:
    return await session.scalar(select(BankTransfer).where(BankTransfer.id == transfer_id).with_for_update())


async def order_by_key(session: AsyncSession, customer_id: str, key: str) -> Order | None:
    return await session.scalar(select(Order).where(Order.customer_id == customer_id, Order.idempotency_key == key))


async def transfer_by_key(session: AsyncSession, customer_id: str, key: str) -> BankTransfer | None:
    return await session.scalar(
        select(BankTransfer).where(BankTransfer.customer_id == customer_id, BankTransfer.idempotency_key == key)
    )


async def load_position(session: AsyncSession, customer_id: str, symbol: str) -> domain.Position:
    row = await session.scalar(
        select(Position).where(Position.customer_id == customer_id, Position.symbol == symbol).with_for_update()
    )
    if row is None:
        return domain.Position(symbol=symbol)
    return position_to_domain(row)


def position_to_domain(row: Position) -> domain.Position:
    return domain.Position(
        symbol=row.symbol,
        quantity=row.quantity,
        frozen=row.frozen,
        cost_minor=row.cost_minor,
        realised_pnl_minor=row.realised_pnl_minor,
        unsettled_day=row.unsettled_day,
        unsettled_quantity=row.unsettled_quantity,
    )


async def save_position(session: AsyncSession, customer_id: str, position: domain.Position, now: datetime) -> None:
    row = await session.get(Position, (customer_id, position.symbol))
    if row is None:
        row = Position(customer_id=customer_id, symbol=position.symbol)
        session.add(row)
    row.quantity = position.quantity
    row.frozen = position.frozen
    row.cost_minor = position.cost_minor
    row.realised_pnl_minor = position.realised_pnl_minor
    row.unsettled_day = position.unsettled_day
    row.unsettled_quantity = position.unsettled_quantity
    row.updated_at = now
    await session.flush()


_RESTING = select(Order.id).where(Order.step == sagas.REST).limit(1)


async def any_resting(db: Database) -> bool:
    """Whether any order rests on the market: one indexed look without a session, which
    the market ticker asks twice a second before it loads the orders to match."""
    return bool(await db.quick_select(_RESTING).all())


async def open_orders(session: AsyncSession, symbols: list[str] | None = None) -> list[Order]:
    """Orders resting on the market (`accepted`, `partially_filled`) in price-time
    priority: market orders first, then the best limit (highest buy, lowest sell), then
    the oldest."""
    query = select(Order).where(Order.step == sagas.REST)
    if symbols is not None:
        query = query.where(Order.symbol.in_(symbols))
    rows = list((await session.scalars(query.order_by(Order.seq))).all())

    def priority(o: Order) -> tuple[int, int]:
        if o.limit_price_milli is None:
            return (0, 0)
        return (1, -o.limit_price_milli if o.side == "buy" else o.limit_price_milli)

    return sorted(rows, key=priority)  # stable: the oldest first within a price


def _releasing(cancelled: bool) -> ColumnElement[bool]:
    """A buy releasing its hold: cancelled (`cancelling`), or refused (`rejected`)."""
    cancel = Order.reason.in_(sagas.CANCEL_REASONS)
    return and_(Order.step == sagas.RELEASE, cancel if cancelled else or_(Order.reason.is_(None), ~cancel))


def order_status_is(status: str) -> ColumnElement[bool]:
    """The orders whose public status (`domain.order_status`) is `status`, or which are
    not yet in a final one (`open`)."""
    if status == "open":
        return or_(Order.step.in_([sagas.RESERVE, sagas.REST, sagas.CAPTURE, sagas.CREDIT]), _releasing(cancelled=True))
    waiting = Order.step.in_([sagas.RESERVE, sagas.REST])
    return {
        OrderStatus.PENDING: and_(Order.step == sagas.RESERVE, Order.filled_quantity == 0),
        OrderStatus.ACCEPTED: and_(Order.step == sagas.REST, Order.filled_quantity == 0),
        OrderStatus.PARTIALLY_FILLED: and_(waiting, Order.filled_quantity > 0),
        OrderStatus.FILLING: Order.step.in_([sagas.CAPTURE, sagas.CREDIT]),
        OrderStatus.FILLED: Order.outcome == COMPLETED,
        OrderStatus.CANCELLING: _releasing(cancelled=True),
        OrderStatus.CANCELLED: Order.outcome == CANCELLED,
        OrderStatus.REJECTED: or_(Order.outcome == FAILED, _releasing(cancelled=False)),
    }[OrderStatus(status)]


async def sale_proceeds_since(session: AsyncSession, customer_id: str, account_id: str, day: date) -> int:
    """What the customer's sales settled into `account_id` on bank day `day` or later (fen)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Trade.net_minor), 0)).where(
            Trade.customer_id == customer_id,
            Trade.account_id == account_id,
            Trade.side == "sell",
            Trade.trade_day >= day,
        )
    )
    return int(total or 0)


async def enabled_boards(session: AsyncSession, customer_id: str) -> dict[str, datetime]:
    rows = await session.execute(
        select(BoardPermission.board, BoardPermission.enabled_at).where(BoardPermission.customer_id == customer_id)
    )
    return {board: at for board, at in rows.all()}


# --- market history -------------------------------------------------------------------------


async def save_market_history(
    session: AsyncSession, bars: Sequence[tuple[str, domain.Bar]], ticks: Sequence[tuple[str, date, domain.Tick]]
) -> None:
    """Write the bars (new or changed: today's, and a day that has just completed) and the
    ticks since the last write: one upsert and one insert, which the market's history
    writer runs every few seconds all day (an ORM merge per bar was a read and a write
    each, most of what an idle securities service spent its CPU on). Both on the tables,
    not the ORM classes: plain executemanys, without the ORM's bulk-insert bookkeeping."""
    if bars:
        dialect = session.get_bind().dialect.name
        table = table_of(MarketBar)
        upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        kept = ["open_milli", "high_milli", "low_milli", "close_milli", "volume", "turnover_minor", "complete"]
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[table.c.symbol, table.c.day], set_={c: upsert.excluded[c] for c in kept}
            ),
            [
                {
                    "symbol": symbol,
                    "day": b.day,
                    "open_milli": b.open,
                    "high_milli": b.high,
                    "low_milli": b.low,
                    "close_milli": b.close,
                    "volume": b.volume,
                    "turnover_minor": b.turnover_minor,
                    "complete": b.complete,
                }
                for symbol, b in bars
            ],
        )
    if ticks:
        await session.execute(
            insert(table_of(MarketTick)),
            [
                {"symbol": symbol, "day": day, "at": t.at, "price_milli": t.price, "volume": t.volume}
                for symbol, day, t in ticks
            ],
        )


async def prune_ticks(session: AsyncSession, keep_days: int) -> int:
    """Drop ticks older than the newest `keep_days` days the market traded; how many went."""
    days = (await session.scalars(select(MarketTick.day).distinct().order_by(MarketTick.day.desc()))).all()
    if len(days) <= keep_days:
        return 0
    oldest_kept = days[keep_days - 1]
    result = await session.execute(delete(MarketTick).where(MarketTick.day < oldest_kept))
    return int(getattr(result, "rowcount", 0) or 0)


async def load_market_history(
    session: AsyncSession, today: date, bars_kept: int
) -> tuple[list[tuple[str, domain.Bar]], list[tuple[str, domain.Tick]]]:
    """The bars up to today (the newest `bars_kept` days per symbol at most) and today's ticks."""
    rows = (await session.scalars(select(MarketBar).where(MarketBar.day <= today).order_by(MarketBar.day))).all()
    per_symbol: dict[str, list[MarketBar]] = {}
    for row in rows:
        per_symbol.setdefault(row.symbol, []).append(row)
    bars = [
        (
            r.symbol,
            domain.Bar(
                r.day, r.open_milli, r.high_milli, r.low_milli, r.close_milli, r.volume, r.turnover_minor, r.complete
            ),
        )
        for kept in per_symbol.values()
        for r in kept[-(bars_kept + 1) :]
    ]
    ticks = (await session.scalars(select(MarketTick).where(MarketTick.day == today).order_by(MarketTick.seq))).all()
    return bars, [(t.symbol, domain.Tick(t.at, t.price_milli, t.volume)) for t in ticks]
