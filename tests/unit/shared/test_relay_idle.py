"""The outbox relay at rest: its looks back off while they find nothing, a commit still
brings its rows out at once, and a row no commit announced is found within the longest
wait."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from shared.db import Database, naming_metadata
from shared.kafka.messaging import messaging_tables
from shared.kafka.relay import OutboxRelay

metadata = naming_metadata()
tables = messaging_tables(metadata)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    async def send_many(self, messages: Sequence[tuple[str, str | None, bytes, list[Any]]]) -> None:
        self.sent += [(time.monotonic(), payload) for _, _, payload, _ in messages]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    await database.create_all(metadata)
    yield database
    await database.dispose()


async def write(db: Database, payload: bytes, *, announce: bool) -> None:
    async with db.write() as session, session.begin():
        row = {"topic": "t", "key": "k", "payload": payload, "headers": [], "created_at": datetime.now(UTC)}
        await session.execute(insert(tables.outbox).values(**row))
    if announce:
        db.outbox_written.set()  # what a unit of work's commit does


async def until(probe: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_backed_off_relay_sends_a_commit_at_once_and_finds_an_unannounced_row(db: Database) -> None:
    producer = Recorder()
    relay = OutboxRelay(db, tables, producer, idle_s=0.05, idle_max_s=0.4)  # type: ignore[arg-type]
    looks = 0
    drain = relay.drain_once

    async def counted() -> int:
        nonlocal looks
        looks += 1
        return await drain()

    relay.drain_once = counted  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(1.2)  # 0.1, 0.2, 0.4, 0.4 ...: a handful of looks, not 24
        assert 3 <= looks <= 7, looks

        committed = time.monotonic()
        await write(db, b"announced", announce=True)
        await until(lambda: len(producer.sent) == 1, 0.2)
        assert producer.sent[0][1] == b"announced" and producer.sent[0][0] - committed < 0.2

        await asyncio.sleep(1.0)  # backed off again
        await write(db, b"left by another process", announce=False)
        await until(lambda: len(producer.sent) == 2, 0.4 + 0.3)  # the longest wait, and some slack
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_commit_after_a_quiet_spell_goes_out_at_once_and_commits_that_keep_coming_linger(
    db: Database,
) -> None:
    """The linger gathers the commits of a busy moment into one drain; a lone commit has
    nothing to wait for. With a linger of 2 s: the first commit goes out at once; one that
    comes while a drain runs makes the next drain linger, and the commits of that linger
    go out together."""
    producer = Recorder()
    relay = OutboxRelay(db, tables, producer, idle_s=10, idle_max_s=10, linger_s=2.0)  # type: ignore[arg-type]
    drained: list[int] = []
    drain = relay.drain_once
    arrive_during_drain = asyncio.Event()

    async def counted() -> int:
        sent = await drain()
        drained.append(sent)
        if arrive_during_drain.is_set():
            arrive_during_drain.clear()
            await write(db, b"while draining", announce=True)
        return sent

    relay.drain_once = counted  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        await until(lambda: drained == [0], 1.0)
        committed = time.monotonic()
        arrive_during_drain.set()
        await write(db, b"lone", announce=True)
        await until(lambda: len(producer.sent) == 1, 1.0)  # not after the 2 s linger
        assert producer.sent[0][1] == b"lone" and producer.sent[0][0] - committed < 1.0
        # The commit during that drain: the relay is busy, so it lingers, and a commit of
        # the linger goes out with it in one drain.
        await asyncio.sleep(0.2)
        assert len(producer.sent) == 1
        await write(db, b"in the linger", announce=True)
        await until(lambda: len(producer.sent) == 3, 4.0)
        assert [payload for _, payload in producer.sent[1:]] == [b"while draining", b"in the linger"]
        assert drained[-1] == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
