"""What the notification writer hands on (to the hub's recorders, to pushes) carries the ids
the database gave its rows, in the order the drafts came: on inline SQLite, where the rows
go without a session, and through the session (RETURNING) elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from gateway import store
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from gateway.notifications.notify import Draft
from gateway.presence import Presence
from shared.db import Database
from shared.kafka.messaging import UnitOfWork

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


class Heard:
    """A recorder that keeps what it hears."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def recorded(self, uow: UnitOfWork, rows: Sequence[dict[str, Any]]) -> None:
        self.rows += rows


@pytest.fixture(params=[True, False], ids=["inline SQLite", "through the session"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}", sqlite_inline=request.param)
    await database.create_all(store.Base.metadata)
    yield database
    await database.dispose()


def draft(customer: str, title: str) -> Draft:
    return Draft(customer, "payment_received", title, "body", {"title": title})


async def write(db: Database, *drafts: Draft, batched: bool = True) -> list[tuple[int, str]]:
    """Write the drafts in one unit of work; the (id, title) pairs the recorders heard."""
    hub, heard = NotificationHub(), Heard()
    hub.recorders.append(heard)
    async with UnitOfWork(db, store.messaging, source="test") as uow:
        writer = notifications.NotificationWriter(uow, hub, sandbox=True, batched=batched)
        await writer.add(drafts, event_id="e-1", event_at=NOW, now=NOW)
        await writer.write()
    return [(row["id"], row["title"]) for row in heard.rows]


async def stored(db: Database) -> list[tuple[int, str]]:
    async with db.read() as session:
        found = await session.execute(select(notifications.Notification.id, notifications.Notification.title))
        return sorted((id, title) for id, title in found)


async def test_each_row_heard_carries_the_id_it_was_stored_under(db: Database) -> None:
    await write(db, draft("c-9", "before"))
    heard = await write(db, draft("c-1", "a"), draft("c-2", "b"), draft("c-1", "c"))

    assert heard == [(2, "a"), (3, "b"), (4, "c")]
    assert (await stored(db))[1:] == heard


async def test_ids_go_on_past_rows_deleted_and_are_never_handed_out_twice(db: Database) -> None:
    await write(db, draft("c-1", "a"), draft("c-1", "b"), draft("c-1", "c"))
    async with db.write() as session, session.begin():
        await session.execute(delete(notifications.Notification).where(notifications.Notification.id > 1))

    heard = await write(db, draft("c-1", "d"), draft("c-2", "e"), batched=False)

    assert heard == [(4, "d"), (5, "e")]
    assert await stored(db) == [(1, "a"), *heard]


async def test_rows_the_session_holds_go_first_and_the_ids_heard_are_still_the_writers(db: Database) -> None:
    hub, heard = NotificationHub(), Heard()
    hub.recorders.append(heard)
    async with UnitOfWork(db, store.messaging, source="test") as uow:
        uow.session.add(
            notifications.Notification(
                customer_id="c-1",
                kind="stepup_code",
                title="held",
                body="body",
                data={},
                event_id=None,
                event_at=NOW,
                created_at=NOW,
                read_at=None,
            )
        )
        writer = notifications.NotificationWriter(uow, hub)
        await writer.add([draft("c-1", "a"), draft("c-1", "b")], event_id=None, event_at=NOW, now=NOW)

    assert [(row["id"], row["title"]) for row in heard.rows] == [(2, "a"), (3, "b")]
    assert await stored(db) == [(1, "held"), (2, "a"), (3, "b")]


async def test_on_inline_sqlite_a_batch_told_there_is_no_device_opens_no_session(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await database.create_all(store.Base.metadata)
    hub = NotificationHub()
    hub.devices = Presence(monotonic=lambda: 0.0)  # read once, then known
    opened = []
    try:
        for title in ("first", "second"):
            async with UnitOfWork(database, store.messaging, source="test") as uow:
                writer = notifications.NotificationWriter(uow, hub, sandbox=True, batched=True)
                await writer.add([draft("c-1", title)], event_id=title, event_at=NOW, now=NOW)
                await writer.write()
                opened.append(uow.transaction._session is not None)
        assert opened == [True, False]  # the first batch read that no device has a token
        assert await stored(database) == [(1, "first"), (2, "second")]
    finally:
        await database.dispose()
