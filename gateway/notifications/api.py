"""The customer's notifications (a list, read marks one or all, a live Server-Sent Events stream)
and the watchlist whose price alerts become notifications."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from gateway.deps import ClockDep, Customer, GatewayDep, UpstreamsDep
from gateway.identity.sessions import Sessions
from gateway.notifications import store
from gateway.notifications.hub import NotificationHub
from gateway.notifications.schemas import NotificationPage, NotificationPublic, ReadAll, Watchlist
from gateway.streams import HeldStream
from shared.aio import within
from shared.db import Database
from shared.pagination import MAX_SEQ, SmallPageDep, decode_seq, encode_seq, parse_position
from shared.problems import PROBLEM, Problem, not_found

router = APIRouter(prefix="/v1", tags=["notifications"], responses={401: PROBLEM, 422: PROBLEM})
# Ids are the table's INTEGER column: a bigger one is no notification of ours.
NotificationId = Annotated[int, Path(ge=1, le=MAX_SEQ)]


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


@router.get("/notifications", response_model=NotificationPage, responses={400: PROBLEM})
async def list_notifications(
    principal: Customer,
    gw: GatewayDep,
    page: SmallPageDep,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
) -> NotificationPage:
    """Your notifications, newest first: money sent and received, failed payments and
    why, filled orders, price alerts on your watchlist, policies issued, claim updates
    and payouts, and step-up codes sent (never the code itself). Follow `next_cursor` for older ones."""
    query = select(store.Notification).where(store.Notification.customer_id == principal.subject)
    if unread:
        query = query.where(store.Notification.read_at.is_(None))
    before = decode_seq(page.cursor, of="notifications")
    if before is not None:
        query = query.where(store.Notification.id < before)
    async with gw.runtime.db.read() as session:
        rows = (await session.scalars(query.order_by(store.Notification.id.desc()).limit(page.limit + 1))).all()
        count = await store.unread_count(session, principal.subject)
    shown = rows[: page.limit]
    return NotificationPage(
        items=[public(r) for r in shown],
        next_cursor=encode_seq(shown[-1].id, of="notifications") if len(rows) > page.limit else None,
        unread_count=count,
    )


@router.post("/notifications/{notification_id}/read", response_model=NotificationPublic, responses={404: PROBLEM})
async def mark_read(notification_id: NotificationId, principal: Customer, gw: GatewayDep) -> NotificationPublic:
    """Mark one notification read (again is harmless). Another customer's is a 404."""
    now = gw.clock.now()
    async with gw.runtime.db.write() as session, session.begin():
        row = await session.get(store.Notification, notification_id)
        if row is None or row.customer_id != principal.subject:
            raise not_found("notification", str(notification_id))
        if row.read_at is None:
            row.read_at = now
    return public(row)


@router.post("/notifications/read-all", response_model=ReadAll)
async def mark_all_read(
    principal: Customer,
    gw: GatewayDep,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="Only up to this id, included: the newest one the phone has shown"),
    ] = None,
) -> ReadAll:
    """Mark all your notifications read: the "mark all as read" of the notifications screen.
    With `before_id`, only those up to that id, so one that arrived since the phone drew the
    list stays unread. Answers how many were marked and the unread count now (what
    `GET /v1/home` and `GET /v1/notifications` show next)."""
    async with gw.runtime.db.write() as session, session.begin():
        marked = await store.mark_all_read(session, principal.subject, before_id, gw.clock.now())
        count = await store.unread_count(session, principal.subject)
    return ReadAll(marked=marked, unread_count=count)


STREAM_DOC = """Server-Sent Events: each notification as `event: notification` with `id: <notification id>`
and the notification as JSON `data`, pushed the moment it is stored; a `: keep-alive`
comment every 15 s. Reconnect with the `Last-Event-ID` header (or `?last_event_id=`) to
get everything after that id first, so a phone that drops misses nothing; without one
the stream starts with what happens next (`?last_event_id=0` replays everything). An id
that is not a number is a 400 `invalid-cursor`. The stream ends when the session does.
At most 5 open notification streams per customer (429 `too-many-streams`)."""


def _frame(row: store.Notification) -> bytes:
    data = orjson.dumps(public(row).model_dump(mode="json"))
    return b"id: %d\nevent: notification\ndata: %s\n\n" % (row.id, data)


# The stream's kind, for the streams a customer may hold (gateway/streams.py).
STREAM_PATH = "/v1/notifications/stream"


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
        400: PROBLEM,
        429: PROBLEM,
    },
)
async def stream_notifications(
    principal: Customer,
    gw: GatewayDep,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this id")
    ] = None,
    last_event_id: Annotated[str | None, Query(description="Same as the header")] = None,
) -> StreamingResponse:
    """Your notifications, live."""
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    # Refused here, before the stream starts: a bad id found later could only drop it.
    cursor = None if resume is None else parse_position(resume, "Last-Event-ID must be a notification id")
    slot = gw.streams.take(STREAM_PATH, principal.subject)
    events = stream_events(
        db=gw.runtime.db,
        hub=gw.hub,
        sessions=gw.sessions,
        keepalive_s=gw.settings.gateway.sse_keepalive_s,
        customer_id=principal.subject,
        session_id=principal.session_id or "",
        cursor=cursor,
    )
    return HeldStream(events, slot)


async def stream_events(
    *,
    db: Database,
    hub: NotificationHub,
    sessions: Sessions,
    keepalive_s: float,
    customer_id: str,
    session_id: str,
    cursor: int | None,
) -> AsyncIterator[bytes]:
    # Subscribed before the first read: whatever commits after it wakes this stream.
    subscriber = hub.subscribe(customer_id, session_id=session_id)
    try:
        if cursor is None:
            async with db.read() as session:
                cursor = await store.latest_id(session, customer_id)
        yield b"retry: 2000\n\n"
        while True:
            subscriber.event.clear()
            while True:
                async with db.read() as session:
                    rows = await store.after(session, customer_id, cursor)
                if rows:
                    yield b"".join(_frame(r) for r in rows)
                    cursor = rows[-1].id
                if len(rows) < store.STREAM_PAGE:
                    break
            woken = False
            with contextlib.suppress(TimeoutError):
                await within(subscriber.event.wait(), keepalive_s)
                woken = True
            if not await sessions.active(session_id, customer_id):
                return  # logged out or revoked: the phone must log in again
            if not woken:
                yield b": keep-alive\n\n"
    finally:
        hub.unsubscribe(subscriber)


# --- the watchlist ------------------------------------------------------------------------------


@router.get("/watchlist", response_model=Watchlist, tags=["securities"])
async def get_watchlist(principal: Customer, gw: GatewayDep) -> Watchlist:
    """The symbols you watch, in code order: each price alert on them (a move of 5% or more from the
    previous close) reaches you as a `price_alert` notification."""
    async with gw.runtime.db.read() as session:
        return Watchlist(symbols=await store.watchlist(session, principal.subject))


@router.put("/watchlist", response_model=Watchlist, tags=["securities"], responses={503: PROBLEM})
async def put_watchlist(
    body: Watchlist, principal: Customer, gw: GatewayDep, upstreams: UpstreamsDep, clock: ClockDep
) -> Watchlist:
    """Replace your watchlist. Every symbol must be listed (`GET /v1/market/instruments`):
    an unknown one is a 422 `unknown-symbol`."""
    wanted = list(dict.fromkeys(body.symbols))
    if wanted:
        answer = await upstreams.call("securities", "GET", "/v1/market/instruments", caller=principal)
        answer.raise_for_problem()
        listed = {i.get("symbol") for i in answer.json().get("items", [])}
        unknown = [s for s in wanted if s not in listed]
        if unknown:
            raise Problem(422, "unknown-symbol", f"not listed: {', '.join(unknown)}", symbols=unknown)
    async with gw.runtime.db.write() as session, session.begin():
        await store.replace_watchlist(session, principal.subject, wanted, clock.now())
    return await get_watchlist(principal, gw)
