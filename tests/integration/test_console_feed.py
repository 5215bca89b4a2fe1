"""The console's feed reads the topics only while a page reads it: the first question
starts it with the newest messages the broker keeps, in the order they were sent; a
minute (here a moment) without a question stops it; asked again, it reads on from where
it stopped, never a message twice. Real broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from gateway.console.feed import FEED_TOPICS, EventFeed, FeedReader
from shared.events.topics import ACCOUNTS_EVENTS, PAYMENTS_EVENTS
from shared.kafka.producer import ensure_topics
from tools.broker import EmbeddedBroker

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="starts its own broker")


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here: nothing for the integration tier's ledger check."""


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[str]:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as started:
        await ensure_topics(started.bootstrap_servers, FEED_TOPICS, partitions=4)
        yield started.bootstrap_servers


async def publish(bootstrap_servers: str, names: list[str]) -> None:
    """One message per name, keyed by it, on payments.events and accounts.events by turns,
    each sent after the last was acknowledged and stamped with its time as an envelope is
    (so their order is their send order, though several share a millisecond)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        for n, name in enumerate(names):
            topic = PAYMENTS_EVENTS if n % 2 else ACCOUNTS_EVENTS
            value = orjson.dumps({"type": name, "time": datetime.now(UTC).isoformat()})
            await producer.send_and_wait(topic, value, key=name.encode())
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def reading(reader: FeedReader) -> AsyncIterator[None]:
    task = asyncio.create_task(reader.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def keys(feed: EventFeed) -> list[Any]:
    return [e.key for e in feed.after(0, 10_000)]


async def until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_feed_reads_only_while_asked_and_never_a_message_twice(broker: str) -> None:
    await publish(broker, [f"before-{n}" for n in range(6)])
    feed = EventFeed(size=4)
    reader = FeedReader(feed, broker, "feed-test", idle_s=1.0)
    async with reading(reader):
        await asyncio.sleep(0.3)
        assert not reader.running and feed.received == 0  # nobody asked: nothing read

        await reader.wanted()

        assert reader.running
        # The newest four the broker kept, in the order they were sent, not partition by partition.
        assert keys(feed) == [f"before-{n}" for n in range(2, 6)]
        assert feed.rates() == {}  # read from the past, not arrived now
        await publish(broker, ["live-0"])
        await until(lambda: "live-0" in keys(feed))
        assert feed.rates()

        await until(lambda: not reader.running, timeout_s=10)  # a second without a question
        await publish(broker, ["while-stopped-0", "while-stopped-1"])
        await asyncio.sleep(0.3)
        assert "while-stopped-0" not in keys(feed)

        await reader.wanted()

        assert reader.running
        assert keys(feed) == ["before-4", "before-5", "live-0", "while-stopped-0", "while-stopped-1"][-4:]
        assert feed.received == 4 + 1 + 2  # each message once
