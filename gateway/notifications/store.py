"""The notifications feature's tables (notifications, watchlists), and storing
notifications and reading them back for the list and the live stream."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from gateway.notifications.hub import NotificationHub
from gateway.notifications.notify import Draft
from shared.db import UtcDateTime, table_of
from shared.kafka.consumer import Batch
from shared.kafka.messaging import UnitOfWork


class Notification(Base):
    """Something a customer cares about. The id grows with every row, so it doubles as
    the Server-Sent Events id a reconnecting phone resumes from."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_id: Mapped[str | None] = mapped_column(String(64))  # the Kafka envelope it came from
    event_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    # AUTOINCREMENT on SQLite: an id is never handed out twice, even after a sandbox reset.
    __table_args__ = (Index("ix_notification_customer_id_id", "customer_id", "id"), {"sqlite_autoincrement": True})


class WatchedSymbol(Base):
    """A symbol on a customer's watchlist: its price alerts become notifications."""

    __tablename__ = "watched_symbol"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(12), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Taken (PostgreSQL only) by every transaction that writes notifications, so ids commit
# in the order they were handed out and a stream's "after id N" cursor never skips a
# row that committed late. SQLite's single writer gives that order already.
NOTIFICATION_WRITE_LOCK = 0x53414E44424E4B01
STREAM_PAGE = 200
_INSERT = insert(table_of(Notification))


class NotificationWriter(Batch):
    """The notifications one transaction writes: staged for one INSERT at commit, and the
    customers' streams woken after it. On PostgreSQL the writer first takes the write lock,
    once per transaction, so notification ids commit in order (streams read by id)."""

    def __init__(self, uow: UnitOfWork, hub: NotificationHub) -> None:
        super().__init__(uow)
        self.hub = hub
        self._locked = uow.db.sqlite  # SQLite's single writer orders them already

    async def add(self, drafts: Iterable[Draft], *, event_id: str | None, event_at: datetime, now: datetime) -> None:
        rows: list[dict[str, Any]] = [
            {
                "customer_id": d.customer_id,
                "kind": d.kind,
                "title": d.title[:120],
                "body": d.body[:500],
                "data": d.data,
                "event_id": event_id,
                "event_at": event_at,
                "created_at": now,
                "read_at": None,
            }
            for d in drafts
        ]
        if not rows:
            return
        if not self._locked:
            await self.uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": NOTIFICATION_WRITE_LOCK})
            self._locked = True
        for row in rows:
            self.uow.stage(_INSERT, row)  # one executemany for the whole batch, at commit
        for customer_id in {r["customer_id"] for r in rows}:
            self.uow.after_commit.append(partial(self.hub.wake, customer_id))


async def after(session: AsyncSession, customer_id: str, cursor: int, limit: int = STREAM_PAGE) -> Sequence[Any]:
    return (
        await session.scalars(
            select(Notification)
            .where(Notification.customer_id == customer_id, Notification.id > cursor)
            .order_by(Notification.id)
            .limit(limit)
        )
    ).all()


async def latest_id(session: AsyncSession, customer_id: str) -> int:
    found = await session.scalar(select(func.max(Notification.id)).where(Notification.customer_id == customer_id))
    return int(found or 0)


async def unread_count(session: AsyncSession, customer_id: str) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.customer_id == customer_id, Notification.read_at.is_(None))
    )
    return int(found or 0)


async def watchers(session: AsyncSession, symbol: str) -> list[str]:
    """The customers with this symbol on their watchlist."""
    found = await session.scalars(select(WatchedSymbol.customer_id).where(WatchedSymbol.symbol == symbol))
    return list(found.all())


async def watchlist(session: AsyncSession, customer_id: str) -> list[str]:
    found = await session.scalars(
        select(WatchedSymbol.symbol).where(WatchedSymbol.customer_id == customer_id).order_by(WatchedSymbol.symbol)
    )
    return list(found.all())


async def replace_watchlist(session: AsyncSession, customer_id: str, symbols: list[str], now: datetime) -> None:
    current = set(await watchlist(session, customer_id))
    gone = current - set(symbols)
    if gone:
        await session.execute(
            delete(WatchedSymbol).where(WatchedSymbol.customer_id == customer_id, WatchedSymbol.symbol.in_(gone))
        )
    session.add_all(
        WatchedSymbol(customer_id=customer_id, symbol=symbol, added_at=now)
        for symbol in symbols
        if symbol not in current
    )
