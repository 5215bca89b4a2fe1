"""Storing notifications and reading them back for the list and the live stream."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import store
from gateway.hub import NotificationHub
from gateway.notify import Draft
from shared.kafka.messaging import UnitOfWork

# Taken (PostgreSQL only) by every transaction that writes notifications, so ids commit
# in the order they were handed out and a stream's "after id N" cursor never skips a
# row that committed late. SQLite's single writer gives that order already.
NOTIFICATION_WRITE_LOCK = 0x53414E44424E4B01
STREAM_PAGE = 200
_INSERT = insert(store.Notification.__table__)


async def add(
    uow: UnitOfWork,
    hub: NotificationHub,
    drafts: Iterable[Draft],
    *,
    event_id: str | None,
    event_at: datetime,
    now: datetime,
) -> None:
    """Insert in the unit of work's transaction; the customers' streams wake after it commits."""
    rows = [
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
    if not uow.db.sqlite and not uow.session.info.get("notification_lock"):
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": NOTIFICATION_WRITE_LOCK})
        uow.session.info["notification_lock"] = True
    for row in rows:
        uow.stage(_INSERT, row)  # one executemany for the whole batch, at commit
    for customer_id in {r["customer_id"] for r in rows}:
        uow.after_commit.append(lambda c=customer_id: hub.wake(c))


async def after(session: AsyncSession, customer_id: str, cursor: int, limit: int = STREAM_PAGE) -> Sequence[Any]:
    return (
        await session.scalars(
            select(store.Notification)
            .where(store.Notification.customer_id == customer_id, store.Notification.id > cursor)
            .order_by(store.Notification.id)
            .limit(limit)
        )
    ).all()


async def latest_id(session: AsyncSession, customer_id: str) -> int:
    found = await session.scalar(
        select(func.max(store.Notification.id)).where(store.Notification.customer_id == customer_id)
    )
    return int(found or 0)


async def unread_count(session: AsyncSession, customer_id: str) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(store.Notification)
        .where(store.Notification.customer_id == customer_id, store.Notification.read_at.is_(None))
    )
    return int(found or 0)
