"""What a drain marks published: the rows it sent, once they were sent, at the drain's time
and in UTC, on inline SQLite (one UPDATE ... IN) and through a session alike; a row that
fails to go out stays for the next drain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from shared.db import Database, naming_metadata
from shared.kafka.messaging import messaging_tables
from shared.kafka.relay import OutboxRelay

metadata = naming_metadata()
tables = messaging_tables(metadata)


class Broker:
    """Takes what it is given, or fails while `down`."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.down = False

    async def send_many(self, messages: Sequence[tuple[str, str | None, bytes, list[Any]]]) -> None:
        if self.down:
            raise ConnectionError("no broker")
        self.sent += [payload for _, _, payload, _ in messages]


@pytest.fixture(params=[True, False], ids=["inline", "session"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}", sqlite_inline=request.param)
    await database.create_all(metadata)
    yield database
    await database.dispose()


async def write(db: Database, *payloads: bytes) -> None:
    async with db.write() as session, session.begin():
        for payload in payloads:
            row = {"topic": "t", "key": "k", "payload": payload, "headers": [], "created_at": datetime.now(UTC)}
            await session.execute(insert(tables.outbox).values(**row))


async def marks(db: Database) -> dict[bytes, datetime | None]:
    outbox = tables.outbox
    async with db.read() as session:
        rows = (await session.execute(select(outbox.c.payload, outbox.c.published_at).order_by(outbox.c.id))).all()
    return {payload: at for payload, at in rows}


async def test_a_drain_marks_the_rows_it_sent_and_only_once_they_went_out(db: Database) -> None:
    broker = Broker()
    relay = OutboxRelay(db, tables, broker, batch_size=2)  # type: ignore[arg-type]
    await write(db, b"1", b"2", b"3")
    before = datetime.now(UTC)

    assert await relay.drain_once() == 2
    after = datetime.now(UTC)
    first = await marks(db)
    assert broker.sent == [b"1", b"2"]
    assert first[b"3"] is None
    for payload in (b"1", b"2"):
        at = first[payload]
        assert at is not None and at.tzinfo is not None and before <= at <= after

    broker.down = True
    with pytest.raises(ConnectionError):
        await relay.drain_once()
    assert (await marks(db))[b"3"] is None, "a row the broker did not take stays unpublished"

    broker.down = False
    assert await relay.drain_once() == 1
    assert await relay.drain_once() == 0
    assert broker.sent == [b"1", b"2", b"3"]
    assert all(at is not None for at in (await marks(db)).values())
    assert await relay.backlog() == 0
