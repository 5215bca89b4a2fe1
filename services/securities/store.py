"""securities tables and the queries the handlers need."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.securities import domain
from shared.db import UtcDateTime, naming_metadata
from shared.kafka.messaging import messaging_tables
from shared.migrations import Migrations


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))


class Order(Base):
    """An order and its saga: `step` names the command awaiting accounts' answer."""

    __tablename__ = "security_order"
    __table_args__ = (
        # A retried POST (same Idempotency-Key) finds the order it already made.
        UniqueConstraint("customer_id", "idempotency_key", name="uq_security_order_customer_key"),
        Index("ix_security_order_status_symbol", "status", "symbol"),
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
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    bank_day: Mapped[date] = mapped_column(Date)
    # The execution, once the market matched the order.
    trade_day: Mapped[date | None] = mapped_column(Date)
    fill_price_milli: Mapped[int | None] = mapped_column(BigInteger)
    gross_minor: Mapped[int | None] = mapped_column(BigInteger)
    commission_minor: Mapped[int | None] = mapped_column(BigInteger)
    stamp_duty_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    realised_pnl_minor: Mapped[int | None] = mapped_column(BigInteger)
    settled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The saga step in flight: reserve | release | capture | credit (None when idle).
    step: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    step_deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    filled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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


class BankTransfer(Base):
    """A bank-securities transfer and its (one-step) saga."""

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
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    step_deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


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


async def open_orders(session: AsyncSession, symbols: list[str] | None = None) -> list[Order]:
    query = select(Order).where(Order.status == domain.OrderStatus.ACCEPTED)
    if symbols is not None:
        query = query.where(Order.symbol.in_(symbols))
    return list((await session.scalars(query.order_by(Order.seq))).all())
