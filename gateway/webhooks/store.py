"""The webhooks feature's tables (endpoints, deliveries, their attempts) and the queries
the routes and the delivery worker need; and `DeliveryRecorder`, which turns each
notification an endpoint wants into a delivery in the transaction that records it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from gateway.presence import Presence
from gateway.webhooks import rules
from shared.db import UtcDateTime, table_of
from shared.kafka.messaging import UnitOfWork

SCOPE_CUSTOMER = "customer"  # the owner's own events
SCOPE_ALL = "all"  # an operator's (partner's) endpoint: every customer's events


class WebhookEndpoint(Base):
    """Where a customer's (or, for every customer, an operator's) events are POSTed."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(36), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(rules.MAX_URL_LENGTH))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Kept as it is: each delivery is signed with it. Shown once, when made.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookDelivery(Base):
    """One event on its way to one endpoint. `payload` is the exact body every attempt
    sends; the times are wall-clock (the event's `created` is the sandbox clock's)."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, succeeded, failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    replay_of: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_webhook_delivery_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, and how the receiver answered."""

    __tablename__ = "webhook_attempt"

    delivery_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))


_DELIVERY = insert(table_of(WebhookDelivery))
_ANY_ENABLED = select(select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True)).exists())


def delivery_row(
    endpoint_id: str, event_id: str, event_type: str, payload: bytes, now: datetime, *, replay_of: int | None = None
) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "payload": payload.decode(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_status_code": None,
        "replay_of": replay_of,
        "created_at": now,
        "completed_at": None,
    }


class DeliveryRecorder:
    """Listens where notifications are recorded (gateway/notifications/hub.py): each one an
    enabled endpoint wants becomes a delivery row in the same transaction, so a committed
    notification always has its deliveries and a rolled-back one none. One query per
    transaction finds the endpoints, none while no endpoint is enabled anywhere (`enabled`,
    gateway/presence.py); the worker is woken after the commit."""

    def __init__(self, wake: Callable[[], None], now: Callable[[], datetime], enabled: Presence) -> None:
        self.wake = wake
        self.now = now
        self.enabled = enabled

    async def recorded(self, uow: UnitOfWork, notifications: Sequence[dict[str, Any]]) -> None:
        if not await self.enabled.any(uow.transaction, _ANY_ENABLED):
            return
        customers = {n["customer_id"] for n in notifications}
        endpoints = await listening(uow.session, customers)
        if not endpoints:
            return
        now = self.now()
        staged = False
        for notification in notifications:
            event_id, body = "", b""
            for endpoint in endpoints:
                if endpoint.scope == SCOPE_CUSTOMER and endpoint.owner_id != notification["customer_id"]:
                    continue
                if not rules.wants(endpoint.events, notification["kind"]):
                    continue
                if not body:
                    event_id = rules.new_event_id()
                    data = rules.notification_data(notification)
                    body = rules.event_body(event_id, notification["kind"], notification["created_at"], data)
                uow.stage(_DELIVERY, delivery_row(endpoint.id, event_id, notification["kind"], body, now))
                staged = True
        if staged:
            uow.after_commit.append(self.wake)


async def listening(session: AsyncSession, customers: set[str]) -> Sequence[WebhookEndpoint]:
    """The enabled endpoints that may hear about these customers."""
    found = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.enabled.is_(True),
            or_(WebhookEndpoint.scope == SCOPE_ALL, WebhookEndpoint.owner_id.in_(customers)),
        )
    )
    return found.all()


async def endpoints_of(session: AsyncSession, owner_id: str) -> Sequence[WebhookEndpoint]:
    found = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.owner_id == owner_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return found.all()


async def count_of(session: AsyncSession, owner_id: str) -> int:
    found = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id)
    )
    return int(found or 0)


async def forget_endpoint(session: AsyncSession, endpoint_id: str) -> None:
    """The endpoint, its deliveries and their attempts (SQLite does not cascade by itself)."""
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def deliveries(
    session: AsyncSession, endpoint_id: str, *, status: str | None, before: int | None, limit: int
) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return (await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit))).all()


async def attempts_of(session: AsyncSession, delivery_id: int) -> Sequence[WebhookAttempt]:
    found = await session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.number)
    )
    return found.all()


async def due(session: AsyncSession, now: datetime, skip: set[int], limit: int) -> Sequence[WebhookDelivery]:
    """Pending deliveries to enabled endpoints whose next attempt is due, oldest first."""
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if skip:
        query = query.where(WebhookDelivery.id.not_in(skip))
    return (await session.scalars(query)).all()


async def next_due(session: AsyncSession, skip: set[int]) -> datetime | None:
    """When the soonest pending delivery to an enabled endpoint is due."""
    query = (
        select(func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == "pending", WebhookEndpoint.enabled.is_(True))
    )
    if skip:
        query = query.where(WebhookDelivery.id.not_in(skip))
    return await session.scalar(query)
