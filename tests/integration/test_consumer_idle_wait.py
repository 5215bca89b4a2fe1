"""A consumer that has seen no message for a while lets its fetches wait longer (an idle
stack costs less), and goes back to short waits with the first message. Real broker, a
real SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.db import Database
from shared.events.topics import PAYMENTS_EVENTS
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.producer import ensure_topics
from tests.integration.kafka_parts import messaging_db, notifications_loop, payments_producer, send_completed, until
from tools.broker import EmbeddedBroker

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="starts its own broker")


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to
    check; without it (and the accounts app of each database backend it asks for) each
    test runs once, not once per backend."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with messaging_db(tmp_path / "idle.db") as database:
        yield database


def fetch_wait(consumer: ConsumerLoop) -> int:
    return int(consumer.consumer._fetcher._fetch_max_wait_ms)  # type: ignore[union-attr]


async def test_fetches_wait_longer_after_a_quiet_spell_and_short_again_with_a_message(
    db: Database, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    applied: list[str] = []
    consumer = notifications_loop(
        db, broker.bootstrap_servers, applied, fetch_max_wait_ms=100, idle_fetch_max_wait_ms=700, idle_after_s=0.5
    )
    producer = payments_producer(broker.bootstrap_servers)
    task = None
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await producer.start()
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        await until(lambda: fetch_wait(consumer) == 700)  # nothing to read: long waits

        async def send(n: int) -> None:
            await send_completed(producer, [n])

        await send(1)
        await until(lambda: applied == ["p-1"])
        assert fetch_wait(consumer) == 100  # a message: short waits again
        await send(2)
        await until(lambda: applied == ["p-1", "p-2"])
        assert fetch_wait(consumer) == 100
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await consumer.stop()
        await producer.stop()
        broker.stop()
