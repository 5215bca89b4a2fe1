"""The outbox relay keeps what it published for its retention and sends it again to a
broker that came back empty; the broker watch tells such a broker from the one it knew,
and a consumer rewound reads the new broker from the start (ADR 0013). Real brokers, a
real SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select, update

from shared.db import Database
from shared.events.envelope import utcnow
from shared.events.topics import PAYMENTS_EVENTS
from shared.kafka.producer import Producer, ensure_topics
from shared.kafka.relay import OutboxRelay
from shared.kafka.watch import BrokerWatch
from tests.integration.kafka_parts import (
    keys,
    messaging_db,
    notifications_loop,
    payments_producer,
    send_completed,
    tables,
    until,
)
from tools.broker import EmbeddedBroker

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="restarts its own brokers")

TOPIC = "retention.events"


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to
    check; without it (and the accounts app of each database backend it asks for) each
    test runs once, not once per backend."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with messaging_db(tmp_path / "relay.db") as database:
        yield database


async def _write(db: Database, count: int, start: int = 0) -> None:
    async with db.write() as session, session.begin():
        for n in range(start, start + count):
            await session.execute(
                tables.outbox.insert().values(
                    topic=TOPIC, key=f"k{n}", payload=f"m{n}".encode(), headers=[], created_at=utcnow()
                )
            )


async def _rows(db: Database, *, published: bool) -> int:
    column = tables.outbox.c.published_at
    async with db.read() as session:
        where = column.is_not(None) if published else column.is_(None)
        return int(await session.scalar(select(func.count()).select_from(tables.outbox).where(where)) or 0)


async def _read_all(bootstrap_servers: str, expect: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        found: list[bytes] = []
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            found += [r.value for recs in batch.values() for r in recs]
            if len(found) >= expect:
                break
        return found
    finally:
        await consumer.stop()


async def _producer(bootstrap_servers: str) -> Producer:
    producer = Producer(bootstrap_servers, client_id="accounts", keys=keys("accounts"))
    await producer.start()
    return producer


async def test_published_rows_are_kept_for_the_retention_then_pruned(db: Database, tmp_path: Path) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        await ensure_topics(broker.bootstrap_servers, [TOPIC], partitions=1)
        producer = await _producer(broker.bootstrap_servers)
        try:
            relay = OutboxRelay(db, tables, producer, retention_s=60)
            await _write(db, 5)
            assert await relay.drain_once() == 5
            assert await relay.drain_once() == 0, "a published row is not sent twice"
            assert await relay.backlog() == 0
            assert await _rows(db, published=True) == 5, "kept for the retention"
            assert await relay.prune() == 0, "none is older than the retention"
            # Two of them published long ago (a previous run): the first prune finds them by time.
            async with db.write() as session, session.begin():
                await session.execute(
                    update(tables.outbox)
                    .where(tables.outbox.c.id <= 2)
                    .values(published_at=utcnow().replace(year=2000))
                )
            assert await OutboxRelay(db, tables, producer, retention_s=60).prune() == 2, "a new run's first prune"
            relay.retention_s = 0
            await _write(db, 3, start=5)
            assert await relay.drain_once() == 3
            await asyncio.sleep(0.01)
            assert await relay.prune() == 3 + 3, "every drain past the retention, by key range"
            assert await _rows(db, published=True) == 0
        finally:
            await producer.stop()


async def test_a_broker_that_came_back_empty_gets_the_retained_rows_again(db: Database, tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    first = EmbeddedBroker(log_path=log).start()
    port = first.port
    lost: list[str] = []

    async def on_new_broker(what: str) -> None:
        lost.append(what)
        await ensure_topics(first.bootstrap_servers, [TOPIC], partitions=1)
        await relay.republish()

    watch = BrokerWatch(first.bootstrap_servers, client_id="accounts", topics=[TOPIC], on_new_broker=on_new_broker)
    try:
        await ensure_topics(first.bootstrap_servers, [TOPIC], partitions=1)
        producer = await _producer(first.bootstrap_servers)
        relay = OutboxRelay(db, tables, producer, retention_s=60)
        await watch.check()
        assert watch.ready and watch.cluster_id == first.cluster_id
        await _write(db, 4)
        assert await relay.drain_once() == 4
        assert len(await _read_all(first.bootstrap_servers, 4)) == 4

        first.stop()
        await watch.check()
        assert not watch.ready and watch.problem is not None and "unreachable" in watch.problem
        second = EmbeddedBroker(port=port, log_path=log).start()
        try:
            assert second.cluster_id != first.cluster_id
            await watch.check()
            assert len(lost) == 1 and second.cluster_id in lost[0], lost
            assert watch.ready and watch.cluster_id == second.cluster_id
            assert await relay.backlog() == 4, "every retained row waits to go out again"
            for _ in range(40):  # the producer finds the new broker's topic
                try:
                    await relay.drain_once()
                    break
                except Exception:
                    await asyncio.sleep(0.25)
            assert await relay.backlog() == 0
            assert sorted(await _read_all(second.bootstrap_servers, 4)) == [b"m0", b"m1", b"m2", b"m3"]
            await watch.check()
            assert len(lost) == 1, "the same broker again is not a new one"
        finally:
            await producer.stop()
            second.stop()
    finally:
        first.stop()
        await watch._close()


async def test_a_steady_watch_sees_its_broker_go_at_once_and_a_new_one_come(tmp_path: Path) -> None:
    """Looking rarely while the broker is there, the watch still tells at once that it
    went (the broker's end closes the connection the watch holds to it), then looks
    every interval until one is back."""
    log = tmp_path / "broker.log"
    first = EmbeddedBroker(log_path=log).start()
    lost: list[str] = []

    async def on_new_broker(what: str) -> None:
        lost.append(what)
        await ensure_topics(first.bootstrap_servers, [TOPIC], partitions=1)

    watch = BrokerWatch(
        first.bootstrap_servers,
        client_id="accounts",
        topics=[TOPIC],
        on_new_broker=on_new_broker,
        interval_s=0.2,
        steady_s=600,
    )
    await ensure_topics(first.bootstrap_servers, [TOPIC], partitions=1)
    task = asyncio.create_task(watch.run())
    second = None
    try:
        await until(lambda: watch.ready)
        await asyncio.sleep(0.5)  # waiting for its next look, ten minutes away
        first.stop()
        await until(lambda: not watch.ready, timeout_s=5)
        assert watch.problem is not None and "unreachable" in watch.problem

        second = EmbeddedBroker(port=first.port, log_path=log).start()
        await until(lambda: watch.ready and watch.cluster_id == second.cluster_id, timeout_s=10)
        assert len(lost) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        first.stop()
        if second is not None:
            second.stop()


async def test_a_rewound_consumer_reads_a_new_broker_from_its_start(db: Database, tmp_path: Path) -> None:
    """A consumer 10 messages into the lost broker, on a new one that refilled to 15:
    rewound, it applies all 15 of the new broker, none twice (its old position means
    nothing there; left alone it may start at offset 10 and skip the first ten)."""
    log = tmp_path / "broker.log"
    first = EmbeddedBroker(log_path=log).start()
    applied: list[str] = []
    consumer = notifications_loop(db, first.bootstrap_servers, applied)
    producer = payments_producer(first.bootstrap_servers)
    second = None
    task = None
    try:
        await ensure_topics(first.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await producer.start()
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        await send_completed(producer, range(10))
        await until(lambda: len(applied) == 10)
        first.stop()
        second = EmbeddedBroker(port=first.port, log_path=log).start()
        await ensure_topics(second.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        for _ in range(40):  # the producer finds the new broker
            try:
                await send_completed(producer, range(100, 115))
                break
            except Exception:
                await asyncio.sleep(0.25)
        # Left alone, it may read the new partition from its old position (10) and skip
        # what lies below; rewound, it reads it from the start.
        consumer.rewind()
        await until(lambda: consumer.rewinds == 1 and len(applied) == 25)
        await asyncio.sleep(0.5)
        expected = [f"p-{n}" for n in range(10)] + [f"p-{n}" for n in range(100, 115)]
        assert sorted(applied) == sorted(expected), "every message of both brokers applied, none twice"
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await consumer.stop()
        await producer.stop()
        first.stop()
        if second is not None:
            second.stop()


async def test_a_steady_watch_asks_only_when_the_process_has_not_heard_from_the_broker(tmp_path: Path) -> None:
    """While the process's group members have answers from the broker (their heartbeats,
    every second), the watch skips its steady looks, up to `vouched_s`; once they go
    without one, it looks every `steady_s` again."""
    heard_at = [0.0]
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        await ensure_topics(broker.bootstrap_servers, [TOPIC], partitions=1)
        watch = BrokerWatch(
            broker.bootstrap_servers,
            client_id="accounts",
            topics=[TOPIC],
            on_new_broker=lambda _what: asyncio.sleep(0),
            interval_s=0.1,
            steady_s=0.1,
            vouched_s=0.6,
            answered=lambda: heard_at[0],
        )
        task = asyncio.create_task(watch.run())

        async def vouch() -> None:
            while True:
                heard_at[0] = time.monotonic()
                await asyncio.sleep(0.02)

        vouching = asyncio.create_task(vouch())
        try:
            await until(lambda: watch.ready)
            looks = watch.looks
            await asyncio.sleep(1.5)
            # About once per `vouched_s` (2-3), not once per `steady_s` (15).
            assert 1 <= watch.looks - looks <= 4
            vouching.cancel()
            looks = watch.looks
            await asyncio.sleep(1.0)
            assert watch.looks - looks >= 5  # unheard of: every steady_s again
        finally:
            vouching.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_watch_that_trusts_the_heartbeats_still_finds_a_broker_that_hangs(tmp_path: Path) -> None:
    """A hung broker keeps its sockets open, so the lifeline says nothing: the group
    member's heartbeats go unanswered, and the watch, no longer vouched for, looks and
    finds it gone."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        await ensure_topics(broker.bootstrap_servers, [TOPIC], partitions=1)
        member = AIOKafkaConsumer(
            TOPIC,
            bootstrap_servers=broker.bootstrap_servers,
            group_id="watched",
            session_timeout_ms=2000,
            rebalance_timeout_ms=2000,
            heartbeat_interval_ms=200,
        )
        await member.start()

        def answered() -> float:
            return max((conn._last_action for conn in member._client._conns.values()), default=-math.inf)

        watch = BrokerWatch(
            broker.bootstrap_servers,
            client_id="accounts",
            topics=[TOPIC],
            on_new_broker=lambda _what: asyncio.sleep(0),
            interval_s=0.1,
            steady_s=0.5,
            vouched_s=600,
            timeout_s=0.5,
            answered=answered,
        )
        task = asyncio.create_task(watch.run())
        assert broker.process is not None
        try:
            await until(lambda: watch.ready and bool(member.assignment()))
            looks = watch.looks
            await asyncio.sleep(1.5)
            assert watch.looks == looks  # the heartbeats vouch for the broker
            broker.process.send_signal(signal.SIGSTOP)
            try:
                await until(lambda: not watch.ready, timeout_s=3)
            finally:
                broker.process.send_signal(signal.SIGCONT)
            await until(lambda: watch.ready, timeout_s=10)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await watch._close()
            await member.stop()
