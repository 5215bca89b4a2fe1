"""The notification stream's loop against a real (SQLite) database and the in-process hub:
replay after a cursor, a push woken by the commit, keep-alives, and the end of a session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import db as gateway_db
from gateway.notifications import store
from gateway.notifications.api import stream_events
from gateway.notifications.hub import NotificationHub
from gateway.notifications.notify import Draft
from shared.db import Database
from shared.kafka.messaging import UnitOfWork
from shared.pagination import MAX_SEQ

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Sessions:
    def __init__(self) -> None:
        self.live = True

    async def active(self, _session_id: str, _subject: str) -> bool:
        return self.live


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await database.create_all(gateway_db.Base.metadata)
    yield database
    await database.dispose()


def events(
    db: Database, hub: NotificationHub, sessions: Sessions, keepalive_s: float, cursor: int | None
) -> AsyncIterator[bytes]:
    return stream_events(
        db=db,
        hub=hub,
        sessions=sessions,  # type: ignore[arg-type]
        keepalive_s=keepalive_s,
        customer_id="c1",
        session_id="s1",
        cursor=cursor,
    )


async def notify(db: Database, hub: NotificationHub, customer_id: str, title: str) -> None:
    async with UnitOfWork(db, gateway_db.messaging, source="test") as uow:
        draft = Draft(customer_id, "payment_sent", title, "body", {"n": title})
        await store.NotificationWriter(uow, hub).add([draft], event_id=None, event_at=NOW, now=NOW)


async def next_chunk(stream: AsyncIterator[bytes], within_s: float = 2.0) -> bytes:
    return await asyncio.wait_for(anext(stream), within_s)


async def test_replays_after_the_cursor_then_pushes_what_commits_and_keeps_alive(db: Database) -> None:
    hub, sessions = NotificationHub(), Sessions()
    for title in ("one", "two"):
        await notify(db, hub, "c1", title)
    await notify(db, hub, "someone-else", "not yours")
    stream = events(db, hub, sessions, 0.2, cursor=1)
    try:
        assert await next_chunk(stream) == b"retry: 2000\n\n"
        replayed = await next_chunk(stream)
        assert replayed.startswith(b"id: 2\nevent: notification\ndata: ") and b"one" not in replayed
        assert await next_chunk(stream) == b": keep-alive\n\n"
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    # With an hour between keep-alives, only the commit can wake the stream.
    stream = events(db, hub, sessions, 3600, cursor=2)
    try:
        assert await next_chunk(stream) == b"retry: 2000\n\n"
        pending = asyncio.ensure_future(next_chunk(stream, within_s=60))
        await notify(db, hub, "c1", "three")
        pushed = await pending
        assert b'"title":"three"' in pushed and pushed.startswith(b"id: 4\n")
        assert hub.streams("c1") == 1
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert hub.streams("c1") == 0


async def test_without_a_cursor_the_stream_starts_after_the_latest(db: Database) -> None:
    hub = NotificationHub()
    await notify(db, hub, "c1", "old")
    stream = events(db, hub, Sessions(), 5, cursor=None)
    try:
        await next_chunk(stream)
        pending = asyncio.ensure_future(next_chunk(stream))
        await asyncio.sleep(0.01)
        await notify(db, hub, "c1", "new")
        chunk = await pending
        assert b"new" in chunk and b"old" not in chunk
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_the_stream_ends_when_its_session_does(db: Database) -> None:
    hub, sessions = NotificationHub(), Sessions()
    stream = events(db, hub, sessions, 5, cursor=None)
    await next_chunk(stream)
    pending = asyncio.ensure_future(next_chunk(stream))
    await asyncio.sleep(0.01)
    sessions.live = False
    hub.wake_session("s1")
    with pytest.raises(StopAsyncIteration):
        await pending
    assert hub.streams("c1") == 0


async def test_a_position_past_every_id_keeps_the_stream_open_with_nothing_to_replay(db: Database) -> None:
    hub = NotificationHub()
    await notify(db, hub, "c1", "old")
    stream = events(db, hub, Sessions(), 0.2, cursor=MAX_SEQ)
    try:
        assert await next_chunk(stream) == b"retry: 2000\n\n"
        assert await next_chunk(stream) == b": keep-alive\n\n"
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
