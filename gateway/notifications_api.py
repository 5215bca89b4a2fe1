"""The customer's notifications (a list, read marks, a live Server-Sent Events stream)
and the watchlist whose price alerts become notifications."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select

from gateway import notifications, store
from gateway.api import PROBLEM, Customer, UpstreamsDep
from gateway.hub import NotificationHub, TooManyStreams
from gateway.notify import KINDS
from gateway.sessions import Sessions
from gateway.upstream import raise_for_problem
from shared.problems import Problem, not_found
from shared.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["notifications"], responses={401: PROBLEM, 422: PROBLEM})

EXAMPLE = {
    "id": 42,
    "kind": "payment_received",
    "title": "Money received",
    "body": "You received 88.80 CNY into account …0201.",
    "data": {
        "payment_id": "7d1c2e4a-5b6f-4c3d-9e8f-0a1b2c3d4e5f",
        "payment_kind": "transfer",
        "amount": "88.80",
        "amount_minor": 8880,
        "currency": "CNY",
        "payee_account_id": "5a0e1d3c-0000-4000-8000-000000000201",
    },
    "event_at": "2026-11-25T14:01:02.345Z",
    "created_at": "2026-11-25T14:01:02.391Z",
    "read": False,
    "read_at": None,
}


class NotificationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})
    id: int = Field(description="Grows with every notification; the stream's event id")
    kind: str = Field(description=f"One of: {', '.join(KINDS)}")
    title: str
    body: str
    data: dict[str, Any] = Field(description="The facts behind it (ids, amounts), by kind")
    event_at: datetime = Field(description="When the event it reports happened")
    created_at: datetime
    read: bool
    read_at: datetime | None = None


class NotificationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EXAMPLE], "next_cursor": "42", "unread_count": 3}]}
    )
    items: list[NotificationPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for older notifications")
    unread_count: int


def public(row: store.Notification) -> NotificationPublic:
    return NotificationPublic(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        data=row.data,
        event_at=row.event_at,
        created_at=row.created_at,
        read=row.read_at is not None,
        read_at=row.read_at,
    )


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    request: Request,
    principal: Customer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^\d+$")] = None,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
) -> NotificationPage:
    """Your notifications, newest first: money sent and received, failed payments and
    why, filled orders, price alerts on your watchlist, policies issued, claim updates
    and payouts, and step-up codes. Follow `next_cursor` for older ones."""
    query = select(store.Notification).where(store.Notification.customer_id == principal.subject)
    if unread:
        query = query.where(store.Notification.read_at.is_(None))
    if cursor is not None:
        query = query.where(store.Notification.id < int(cursor))
    async with _runtime(request).db.read() as session:
        rows = (await session.scalars(query.order_by(store.Notification.id.desc()).limit(limit + 1))).all()
        count = await notifications.unread_count(session, principal.subject)
    page = rows[:limit]
    return NotificationPage(
        items=[public(r) for r in page],
        next_cursor=str(page[-1].id) if len(rows) > limit else None,
        unread_count=count,
    )


@router.post("/notifications/{notification_id}/read", response_model=NotificationPublic, responses={404: PROBLEM})
async def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, principal: Customer
) -> NotificationPublic:
    """Mark one notification read (again is harmless). Another customer's is a 404."""
    now = request.app.state.clock.now()
    async with _runtime(request).db.write() as session, session.begin():
        row = await session.get(store.Notification, notification_id)
        if row is None or row.customer_id != principal.subject:
            raise not_found("notification", str(notification_id))
        if row.read_at is None:
            row.read_at = now
    return public(row)


STREAM_DOC = """Server-Sent Events: each notification as `event: notification` with `id: <notification id>`
and the notification as JSON `data`, pushed the moment it is stored; a `: keep-alive`
comment every 15 s. Reconnect with the `Last-Event-ID` header (or `?last_event_id=`) to
get everything after that id first, so a phone that drops misses nothing; without one
the stream starts with what happens next (`?last_event_id=0` replays everything). The
stream ends when the session does. At most 5 open streams per customer (429)."""


def _frame(row: store.Notification) -> bytes:
    data = orjson.dumps(public(row).model_dump(mode="json"))
    return b"id: %d\nevent: notification\ndata: %s\n\n" % (row.id, data)


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    description=STREAM_DOC,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "example": "retry: 2000\n\nid: 42\nevent: notification\n"
                    'data: {"id":42,"kind":"payment_received","title":"Money received",...}\n\n: keep-alive\n\n'
                }
            },
            "description": "A stream of `notification` events",
        },
        429: PROBLEM,
    },
)
async def stream_notifications(
    request: Request,
    principal: Customer,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=20, description="Resume after this id")
    ] = None,
    last_event_id: Annotated[str | None, Query(max_length=20, description="Same as the header")] = None,
) -> StreamingResponse:
    """Your notifications, live."""
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    if resume is not None and not resume.strip().isdigit():
        raise Problem(422, "validation-error", "Last-Event-ID must be a notification id (a whole number)")
    hub: NotificationHub = request.app.state.hub
    settings = request.app.state.settings.gateway
    if hub.streams(principal.subject) >= settings.max_streams_per_customer:
        raise Problem(
            429,
            "too-many-streams",
            f"at most {settings.max_streams_per_customer} notification streams may be open at once",
            headers={"Retry-After": "15"},
        )
    return StreamingResponse(
        _events(request, principal.subject, principal.session_id or "", int(resume) if resume else None),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _events(request: Request, customer_id: str, session_id: str, cursor: int | None) -> AsyncIterator[bytes]:
    hub: NotificationHub = request.app.state.hub
    sessions: Sessions = request.app.state.sessions
    db = _runtime(request).db
    keepalive = request.app.state.settings.gateway.sse_keepalive_s
    try:
        # Subscribed before the first read: whatever commits after it wakes this stream.
        subscriber = hub.subscribe(
            customer_id, limit=request.app.state.settings.gateway.max_streams_per_customer, session_id=session_id
        )
    except TooManyStreams:
        return
    try:
        if cursor is None:
            async with db.read() as session:
                cursor = await notifications.latest_id(session, customer_id)
        yield b"retry: 2000\n\n"
        while True:
            subscriber.event.clear()
            while True:
                async with db.read() as session:
                    rows = await notifications.after(session, customer_id, cursor)
                if rows:
                    yield b"".join(_frame(r) for r in rows)
                    cursor = rows[-1].id
                if len(rows) < notifications.STREAM_PAGE:
                    break
            woken = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscriber.event.wait(), timeout=keepalive)
                woken = True
            if not await sessions.active(session_id):
                return  # logged out or revoked: the phone must log in again
            if not woken:
                yield b": keep-alive\n\n"
    finally:
        hub.unsubscribe(subscriber)


# --- the watchlist ------------------------------------------------------------------------------


class Watchlist(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"symbols": ["600519", "300750"]}]})
    symbols: list[Annotated[str, Field(pattern=r"^\d{6}$")]] = Field(
        max_length=50, description="A-share codes; a price alert on one becomes a notification"
    )


@router.get("/watchlist", response_model=Watchlist, tags=["securities"])
async def get_watchlist(request: Request, principal: Customer) -> Watchlist:
    """The symbols you watch, in code order: each price alert on them (a move of 5% or more from the
    previous close) reaches you as a `price_alert` notification."""
    async with _runtime(request).db.read() as session:
        symbols = (
            await session.scalars(
                select(store.WatchedSymbol.symbol)
                .where(store.WatchedSymbol.customer_id == principal.subject)
                .order_by(store.WatchedSymbol.symbol)
            )
        ).all()
    return Watchlist(symbols=list(symbols))


@router.put("/watchlist", response_model=Watchlist, tags=["securities"], responses={503: PROBLEM})
async def put_watchlist(body: Watchlist, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Watchlist:
    """Replace your watchlist. Every symbol must be listed (`GET /v1/market/instruments`):
    an unknown one is a 422 `unknown-symbol`."""
    wanted = list(dict.fromkeys(body.symbols))
    if wanted:
        answer = await upstreams.call("securities", "GET", "/v1/market/instruments", token=principal.token)
        raise_for_problem(answer)
        listed = {i.get("symbol") for i in answer.json().get("items", [])}
        unknown = [s for s in wanted if s not in listed]
        if unknown:
            raise Problem(422, "unknown-symbol", f"not listed: {', '.join(unknown)}", symbols=unknown)
    now = request.app.state.clock.now()
    async with _runtime(request).db.write() as session, session.begin():
        current = set(
            (
                await session.scalars(
                    select(store.WatchedSymbol.symbol).where(store.WatchedSymbol.customer_id == principal.subject)
                )
            ).all()
        )
        gone = current - set(wanted)
        if gone:
            await session.execute(
                delete(store.WatchedSymbol).where(
                    store.WatchedSymbol.customer_id == principal.subject, store.WatchedSymbol.symbol.in_(gone)
                )
            )
        session.add_all(
            store.WatchedSymbol(customer_id=principal.subject, symbol=symbol, added_at=now)
            for symbol in wanted
            if symbol not in current
        )
    return await get_watchlist(request, principal)
