"""A broker that does not answer holds nothing up for long: a /metrics scrape shows the
last consumer lag it read, marked stale, rather than waiting on the broker (aiokafka
waits 40 s for end offsets, and for a committed offset as long as its group has no
coordinator); and a group member whose offset commits keep failing while the broker is
there, whose client raised, or whose fetch never returns, gets a new Kafka client, and so
does a producer whose sender ended. Real brokers, real SQLite databases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from services.accounts.main import create_app
from shared.aio import within
from shared.db import Database
from shared.events.topics import PAYMENTS_EVENTS
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.producer import Producer, ensure_topics
from shared.metrics import LAG_WAIT_S
from tests.integration.conftest import settings_for
from tests.integration.kafka_parts import (
    messaging_db,
    notifications_loop,
    payments_producer,
    send_completed,
    supervised,
    until,
)
from tests.tokens import Minter
from tools.broker import EmbeddedBroker

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="hangs its own brokers")


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No scenario here moves money (see tests/integration/test_broker_loss.py)."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with messaging_db(tmp_path / "inbox.db") as database:
        yield database


def _lag_samples(text: str) -> dict[str, dict[str, float]]:
    """Per consumer: its lag, whether the lag is stale and how old it is."""
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in ("sandbank_consumer_lag", "sandbank_consumer_lag_stale", "sandbank_consumer_lag_age_seconds"):
            for sample in family.samples:
                found.setdefault(sample.labels["consumer"], {})[family.name] = sample.value
    return found


async def test_a_scrape_does_not_wait_on_a_broker_that_does_not_answer(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    assert broker.process is not None
    settings = settings_for("accounts", f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}", broker.bootstrap_servers)
    app = create_app(settings)
    headers = {"authorization": f"Bearer {Minter().service_token()}"}
    stopped = False
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://accounts", timeout=60) as http,
        ):

            async def scrape() -> tuple[float, dict[str, dict[str, float]]]:
                began = time.monotonic()
                r = await http.get("/metrics", headers=headers)
                assert r.status_code == 200, r.text
                return time.monotonic() - began, _lag_samples(r.text)

            async def readiness() -> tuple[int, dict[str, Any]]:
                r = await http.get("/readyz")
                return r.status_code, r.json()

            deadline = time.monotonic() + 10  # a loaded machine may take a scrape or two
            while True:
                _, fresh = await scrape()
                if fresh and all(v.get("sandbank_consumer_lag_stale", 0) == 0 for v in fresh.values()):
                    break
                assert time.monotonic() < deadline, fresh
            assert all("sandbank_consumer_lag" in v for v in fresh.values()), fresh

            broker.process.send_signal(signal.SIGSTOP)  # hung: its sockets stay open, nothing answers
            stopped = True
            # Every scrape answers in its bound, with the last figures read, marked stale
            # (before, the first one waited on aiokafka's end offsets for 40 s).
            for _ in range(2):
                took, hung = await within(scrape(), 10)
                assert took < LAG_WAIT_S + 3, took
                assert set(hung) == set(fresh)
                for consumer, values in hung.items():
                    assert values["sandbank_consumer_lag_stale"] == 1, (consumer, values)
                    assert values["sandbank_consumer_lag"] == fresh[consumer]["sandbank_consumer_lag"]
                    assert values["sandbank_consumer_lag_age_seconds"] >= LAG_WAIT_S
            # Readiness still tells the truth, and answers at once.
            deadline = time.monotonic() + 15
            while (answer := await within(readiness(), 3))[0] == 200:
                assert time.monotonic() < deadline, "still ready with the broker hung"
                await asyncio.sleep(0.2)
            status, body = answer
            assert status == 503 and body["checks"]["broker"] is False, body

            broker.process.send_signal(signal.SIGCONT)
            stopped = False
            deadline = time.monotonic() + 30
            while True:
                _, back = await scrape()
                if all(v["sandbank_consumer_lag_stale"] == 0 for v in back.values()) and (await readiness())[0] == 200:
                    break
                assert time.monotonic() < deadline, back
                await asyncio.sleep(0.3)
            assert all(0 <= v["sandbank_consumer_lag_age_seconds"] < 5 for v in back.values()), back
    finally:
        if stopped:
            broker.process.send_signal(signal.SIGCONT)
        broker.stop()


PARTITION = TopicPartition(PAYMENTS_EVENTS, 0)


class Member(NamedTuple):
    """The gateway's notifications loop at work on a broker of its own, run as the runtime
    runs it, with payments' producer sending to it."""

    loop: ConsumerLoop
    producer: Producer
    applied: list[str]
    crashes: list[BaseException]


@contextlib.asynccontextmanager
async def member_at_work(db: Database, tmp_path: Path, **overrides: Any) -> AsyncIterator[Member]:
    """A `Member` that has applied and committed its first five messages; `overrides` are
    the loop's arguments a test sets."""
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    applied: list[str] = []
    crashes: list[BaseException] = []
    loop = notifications_loop(db, broker.bootstrap_servers, applied, **({"commit_interval_s": 0.05} | overrides))
    producer = payments_producer(broker.bootstrap_servers)
    task = None
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await producer.start()
        await loop.start()
        task = asyncio.create_task(supervised(loop, crashes))
        await send_completed(producer, range(5))
        await until(lambda: len(applied) == 5)
        await _until_committed(loop, 5)
        yield Member(loop, producer, applied, crashes)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await loop.stop()
        await producer.stop()
        broker.stop()


async def _reads_on_once(member: Member, sent: int) -> None:
    """After a renewal: three more messages are applied, each of the `sent` before them and
    these once (what the new client read again, the inbox dropped), and all are committed."""
    await send_completed(member.producer, range(1000, 1003))
    await until(lambda: {"p-1000", "p-1001", "p-1002"} <= set(member.applied))
    await _until_committed(member.loop, sent + 3)
    await asyncio.sleep(0.3)
    assert len(member.applied) == sent + 3 == len(set(member.applied)), "every message applied once"
    assert member.loop.ready and member.loop.broken is None and member.loop.commit_failures == 0


def _renewal_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "opening a new one" in r.getMessage()]


async def test_a_member_whose_commits_keep_failing_gets_a_new_client(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its commits go unanswered while the broker is there (as after two losses of the
    broker a few seconds apart): after a few in a row over a while, it closes its client
    and opens a new one, which reads on from the committed offsets; what it reads again
    the inbox drops, and its commits go through again."""
    async with member_at_work(db, tmp_path, commit_timeout_s=0.2, renew_after_failures=3, renew_after_s=1.0) as member:
        loop, stuck = member.loop, member.loop.consumer
        assert stuck is not None

        async def unanswered(_offsets: Any = None) -> None:
            await asyncio.Event().wait()

        stuck.commit = unanswered
        with caplog.at_level(logging.WARNING, logger="shared.kafka.consumer"):
            number = 100
            deadline = time.monotonic() + 20
            while loop.renewals == 0:  # a message now and then: each batch's commit fails
                assert time.monotonic() < deadline, f"no renewal after {loop.commit_failures} failed commits"
                await send_completed(member.producer, range(number, number + 1))
                number += 1
                await asyncio.sleep(0.15)
        renewed = _renewal_warnings(caplog)
        assert renewed and "offset commits in a row failed" in renewed[0], renewed
        assert loop.consumer is not stuck and loop.renewals == 1 and not member.crashes
        await _reads_on_once(member, 5 + number - 100)


async def test_a_member_whose_heartbeat_died_gets_a_new_client(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """aiokafka's heartbeat task ends with an error it did not expect (a write on a
    connection a lost broker closed, as a chaos run met after two broker losses): its
    group coordinator then raises that error from every fetch and commit, for good. The
    loop gives up the client at its next fetch and opens a new one, which reads on from
    the committed offsets; nothing is lost and nothing applied twice. Before, the loop
    raised the same error every few seconds, never fetched again, and said it was ready."""
    async with member_at_work(db, tmp_path) as member:
        loop, stuck = member.loop, member.loop.consumer
        assert stuck is not None

        async def closed_under_it() -> bool:
            raise RuntimeError(
                "unable to perform operation on <TCPTransport closed=True reading=False>; the handler is closed"
            )

        with caplog.at_level(logging.WARNING, logger="shared.kafka.consumer"):
            stuck._coordinator._do_heartbeat = closed_under_it  # its next heartbeat ends the task
            await until(lambda: loop.renewals == 1)
        assert [type(c) for c in member.crashes] == [RuntimeError], member.crashes
        renewed = _renewal_warnings(caplog)
        assert renewed and "its Kafka client raised RuntimeError" in renewed[0], renewed
        assert loop.consumer is not stuck
        await _reads_on_once(member, 5)
        assert len(member.crashes) == 1


async def test_a_member_whose_fetch_never_returns_gets_a_new_client(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """aiokafka waits for a group assignment without a bound: a fetch that has not
    returned past the stall limit while the broker is there is a client that will not
    answer, and it is renewed. While the broker is away the loop only waits."""
    # Above the few seconds a new client's first fetch may take to join the group, or each
    # new client would be found stalled in turn.
    async with member_at_work(db, tmp_path, fetch_stall_s=4.0) as member:
        loop, stuck = member.loop, member.loop.consumer
        assert stuck is not None
        away = True
        loop.broker_ready = lambda: not away

        async def never(*_args: Any, **_kwargs: Any) -> Any:
            await asyncio.Event().wait()

        stuck.getmany = never
        await asyncio.sleep(5)  # past the stall limit: the broker is away, nothing is renewed
        assert loop.renewals == 0 and not member.crashes and loop.consumer is stuck
        with caplog.at_level(logging.WARNING, logger="shared.kafka.consumer"):
            away = False
            await until(lambda: loop.renewals == 1, timeout_s=10)
        assert [type(c).__name__ for c in member.crashes] == ["FetchStalled"], member.crashes
        renewed = _renewal_warnings(caplog)
        assert renewed and "a fetch did not return in 4s while the broker was there" in renewed[0], renewed
        await _reads_on_once(member, 5)


async def test_a_producer_whose_sender_died_gets_a_new_client(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """aiokafka's sender task ends with an error it did not expect: the client fails what
    it held, then takes every later batch and never sends it, so the outbox relay would
    wait for its acknowledgement for good. The next send opens a new client instead."""
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    producer = payments_producer(broker.bootstrap_servers)
    reader = AIOKafkaConsumer(PAYMENTS_EVENTS, bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest")
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await producer.start()
        await send_completed(producer, range(2))
        old = producer._producer
        assert old is not None

        async def closed_under_it(*_args: Any) -> None:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

        old._sender._send_produce_req = closed_under_it
        with pytest.raises(KafkaError):  # what the old client held is failed: the relay sends it again
            await within(send_completed(producer, range(2, 3)), 10)
        assert old._sender.sender_task.done()
        with caplog.at_level(logging.WARNING, logger="shared.kafka.producer"):
            await within(send_completed(producer, range(2, 5)), 20)
        assert producer.renewals == 1 and producer._producer is not old
        assert any("its sender ended" in r.getMessage() for r in caplog.records)

        await reader.start()
        seen: list[bytes] = []
        deadline = time.monotonic() + 20
        while len(seen) < 5:
            assert time.monotonic() < deadline, len(seen)
            for records in (await reader.getmany(timeout_ms=500)).values():
                seen += [r.value for r in records]
        assert len(seen) == 5, "two sent before, three by the new client, none by the dead one"
    finally:
        await reader.stop()
        await producer.stop()
        broker.stop()


async def test_commits_failing_while_the_broker_is_away_renew_nothing(db: Database, tmp_path: Path) -> None:
    """While the broker watch finds the broker away, failed commits are what a lost broker
    brings: they are not counted against the client."""
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    loop = notifications_loop(
        db, broker.bootstrap_servers, [], commit_timeout_s=0.05, renew_after_failures=2, renew_after_s=0.0
    )
    away = True
    loop.broker_ready = lambda: not away
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await loop.start()
        assert loop.consumer is not None

        async def unanswered(_offsets: Any = None) -> None:
            await asyncio.Event().wait()

        loop.consumer.commit = unanswered
        for _ in range(4):
            loop._uncommitted = {PARTITION: 1}
            await loop._commit()
        assert loop.commit_failures == 0 and not loop._renew_due()
        away = False
        for _ in range(2):
            loop._uncommitted = {PARTITION: 1}
            await loop._commit()
        assert loop.commit_failures == 2 and loop._renew_due()
    finally:
        await loop.stop()
        broker.stop()


async def _until_committed(loop: ConsumerLoop, offset: int) -> None:
    """Until the group's committed offset on PARTITION reaches `offset` (asked with a
    client of its own: the loop's may be the stuck one)."""
    probe = AIOKafkaConsumer(bootstrap_servers=loop.bootstrap_servers, group_id=loop.name, enable_auto_commit=False)
    await probe.start()
    try:
        deadline = time.monotonic() + 20
        while (await probe.committed(PARTITION) or 0) < offset:
            assert time.monotonic() < deadline, f"committed {await probe.committed(PARTITION)}, not {offset}"
            await asyncio.sleep(0.1)
    finally:
        await probe.stop()
