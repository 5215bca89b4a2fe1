"""The notifications feature's tables (notifications, watchlists, devices' push tokens,
notification preferences), and storing notifications, pushing them to the customer's
devices, and reading them back for the list and the live stream."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, delete, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from gateway.identity.store import Session
from gateway.notifications.hub import NotificationHub
from gateway.notifications.notify import Draft, pushed
from gateway.sandbox.store import SandboxPush
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


class PushToken(Base):
    """Where a customer's device receives pushes: one token per device (the `device_id` the
    app logs in with), from Apple's (apns) or Google's (fcm) push service."""

    __tablename__ = "push_token"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    platform: Mapped[str] = mapped_column(String(8))
    token: Mapped[str] = mapped_column(String(512), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationPreference(Base):
    """A customer's choice for one kind of notification; no row is the default (pushed)."""

    __tablename__ = "notification_preference"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    push: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Taken (PostgreSQL only) by every transaction that writes notifications, so ids commit
# in the order they were handed out and a stream's "after id N" cursor never skips a
# row that committed late. SQLite's single writer gives that order already.
NOTIFICATION_WRITE_LOCK = 0x53414E44424E4B01
STREAM_PAGE = 200
_NOTIFICATION = table_of(Notification)
_INSERT = insert(_NOTIFICATION).returning(_NOTIFICATION.c.id)
_INSERT_ROWS = insert(_NOTIFICATION)
_PUSH = insert(table_of(SandboxPush))
_ANY_DEVICE = select(select(PushToken.customer_id).exists())


class NotificationWriter(Batch):
    """The notifications one transaction writes: one INSERT at `write` for a consumer's
    batch, at once for a writer used alone, and the customers' streams woken after the
    commit. On PostgreSQL the writer first takes the write lock, once per transaction, so
    notification ids commit in order (streams read by id).

    The INSERT hands out the notifications' ids, and what is sent on carries them: in
    sandbox mode each notification is pushed to the customer's registered devices (a
    `sandbox_push` row each) unless they muted its kind, and the hub's recorders (webhooks)
    hear of them, in the same transaction. An app that gets a push or a webhook event can
    mark that notification read, or tell it from one it has already shown. The devices are
    looked for only while any device has a token (`hub.devices`, gateway/presence.py)."""

    def __init__(self, uow: UnitOfWork, hub: NotificationHub, *, sandbox: bool = False, batched: bool = False) -> None:
        super().__init__(uow)
        self.hub = hub
        self.sandbox = sandbox
        self.batched = batched
        self._rows: list[dict[str, Any]] = []
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
        self._rows += rows
        for customer_id in {r["customer_id"] for r in rows}:
            self.uow.after_commit.append(partial(self.hub.wake, customer_id))
        if not self.batched:
            await self.write()

    async def write(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        await self._insert(rows)
        if self.sandbox and await self.hub.devices.any(self.uow.transaction, _ANY_DEVICE):
            for push in await pushes(self.uow.session, rows):
                self.uow.stage(_PUSH, push)
        for recorder in self.hub.recorders:
            await recorder.recorded(self.uow, rows)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert the rows and give each its id. Ids ascend in the order the rows go in,
        and no other transaction writes notifications meanwhile (the write lock; SQLite's
        single writer)."""
        db = self.uow.db
        if db.inline:
            # One executemany on the transaction's own connection, as the unit of work's
            # other rows go (shared.db.QuickWrite): through the session, the INSERT ...
            # RETURNING cost the session's begin and commit besides. The rows of one
            # statement take consecutive ids (AUTOINCREMENT: one past the largest there is),
            # the last of them the connection's last inserted rowid.
            await db.quick_write(_INSERT_ROWS).run(self.uow.transaction, rows)
            raw = await self.uow.transaction.connection()
            last = raw.execute("SELECT last_insert_rowid()").fetchone()[0]
            ids: Iterable[int] = range(last - len(rows) + 1, last + 1)
        else:
            # Sorted, the ids RETURNING gives back (in no promised order) are the rows' in order.
            ids = sorted((await self.uow.session.execute(_INSERT, rows)).scalars())
        for row, notification_id in zip(rows, ids, strict=True):
            row["id"] = notification_id


def _logged_in(customer_id: Any, device_id: Any, now: datetime) -> Any:
    """Whether the customer has a live session on the device (a condition)."""
    return exists().where(
        Session.user_id == customer_id,
        Session.device_id == device_id,
        Session.revoked_at.is_(None),
        Session.expires_at > now,
    )


async def logged_in_on(session: AsyncSession, customer_id: str, device_id: str, now: datetime) -> bool:
    return bool(await session.scalar(select(_logged_in(customer_id, device_id, now))))


async def pushes(session: AsyncSession, notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pushes of these notifications: one per registered device of their customer,
    for each kind the customer has not muted (notify.pushed). A device whose sessions have
    all ended (logged out, revoked) gets none: whoever holds that phone now is not logged in."""
    customers = {n["customer_id"] for n in notifications}
    now = max(n["created_at"] for n in notifications)
    live = _logged_in(PushToken.customer_id, PushToken.device_id, now)
    devices: dict[str, list[PushToken]] = {}
    found_devices = select(PushToken).where(PushToken.customer_id.in_(customers), live).order_by(PushToken.device_id)
    for device in await session.scalars(found_devices):
        devices.setdefault(device.customer_id, []).append(device)
    if not devices:
        return []
    muted: dict[str, set[str]] = {}
    found = await session.execute(
        select(NotificationPreference.customer_id, NotificationPreference.kind).where(
            NotificationPreference.customer_id.in_(devices), NotificationPreference.push.is_(False)
        )
    )
    for customer_id, kind in found:
        muted.setdefault(customer_id, set()).add(kind)
    return [
        {
            "customer_id": n["customer_id"],
            "notification_id": n["id"],
            "device_id": d.device_id,
            "platform": d.platform,
            "token": d.token,
            "kind": n["kind"],
            "title": n["title"],
            "body": n["body"],
            "data": n["data"],
            "created_at": n["created_at"],
        }
        for n in notifications
        if pushed(n["kind"], muted.get(n["customer_id"], set()))
        for d in devices.get(n["customer_id"], [])
    ]


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


async def mark_all_read(session: AsyncSession, customer_id: str, up_to: int | None, now: datetime) -> int:
    """Mark the customer's unread notifications read (those up to id `up_to`, if given); how many."""
    query = update(Notification).where(Notification.customer_id == customer_id, Notification.read_at.is_(None))
    if up_to is not None:
        query = query.where(Notification.id <= up_to)
    result = await session.execute(query.values(read_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def devices(session: AsyncSession, customer_id: str) -> list[PushToken]:
    found = await session.scalars(
        select(PushToken).where(PushToken.customer_id == customer_id).order_by(PushToken.device_id)
    )
    return list(found.all())


async def register_device(
    session: AsyncSession, customer_id: str, device_id: str, platform: str, token: str, now: datetime
) -> PushToken:
    """Set a device's push token. A token is one app install on one phone: registered by
    another login (or under another device id), it leaves there, so a phone handed to
    someone else stops getting the first customer's pushes."""
    await session.execute(
        delete(PushToken).where(
            PushToken.token == token, (PushToken.customer_id != customer_id) | (PushToken.device_id != device_id)
        )
    )
    row = await session.get(PushToken, (customer_id, device_id))
    if row is None:
        row = PushToken(
            customer_id=customer_id, device_id=device_id, platform=platform, token=token, created_at=now, updated_at=now
        )
        session.add(row)
    else:
        row.platform, row.token, row.updated_at = platform, token, now
    return row


async def forget_device(session: AsyncSession, customer_id: str, device_id: str) -> bool:
    result = await session.execute(
        delete(PushToken).where(PushToken.customer_id == customer_id, PushToken.device_id == device_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def muted(session: AsyncSession, customer_id: str) -> set[str]:
    """The kinds the customer chose not to have pushed."""
    found = await session.scalars(
        select(NotificationPreference.kind).where(
            NotificationPreference.customer_id == customer_id, NotificationPreference.push.is_(False)
        )
    )
    return set(found.all())


async def replace_muted(session: AsyncSession, customer_id: str, kinds: set[str], now: datetime) -> None:
    """The customer's muted kinds become `kinds`; every other kind is pushed (no row)."""
    await session.execute(delete(NotificationPreference).where(NotificationPreference.customer_id == customer_id))
    session.add_all(
        NotificationPreference(customer_id=customer_id, kind=kind, push=False, updated_at=now) for kind in sorted(kinds)
    )


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
