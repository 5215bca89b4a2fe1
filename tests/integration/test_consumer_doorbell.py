"""A quiet consumer with a doorbell pauses its partitions and waits for a ring; the
producer's ring after an acknowledged send brings it back at once, and what no ring
announced (a tool outside the stack) is still found after the safety interval. Real
broker, real UDP on 127.0.0.1, a real SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select

from shared.db import Database
from shared.events import Envelope
from shared.events import accounts as acc
from shared.events.topics import ACCOUNTS_EVENTS, PAYMENTS_EVENTS
from shared.kafka import doorbell as doorbell_module
from shared.kafka.consumer import PAUSED_FETCHER_WAKE_MS, ConsumerLoop
from shared.kafka.doorbell import Doorbell, Listener
from shared.kafka.producer import Producer, ensure_topics
from tests.integration.kafka_parts import (
    completed,
    keys,
    messaging_db,
    notifications_loop,
    payments_producer,
    send_completed,
    tables,
    until,
)
from tools.broker import EmbeddedBroker

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="starts its own broker")


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to
    check; without it (and the accounts app of each database backend it asks for) each
    test runs once, not once per backend."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with messaging_db(tmp_path / "doorbell.db") as database:
        yield database


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as started:
        yield started


async def send(producer: Producer, n: int) -> None:
    await send_completed(producer, [n])


@contextlib.asynccontextmanager
async def running(consumer: ConsumerLoop) -> AsyncIterator[None]:
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


def consumer_of(
    db: Database,
    broker: EmbeddedBroker,
    bell: Doorbell,
    applied: list[str],
    *,
    replies_for: str | None = None,
    max_batch: int = 500,
) -> ConsumerLoop:
    return notifications_loop(
        db, broker.bootstrap_servers, applied, doorbell=bell, replies_for=replies_for, max_batch=max_batch
    )


async def test_a_quiet_consumer_pauses_and_a_ring_brings_the_message_at_once(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A safety interval longer than the test: only a ring can bring the message in.
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))
    consumer_bell, producer_bell = Doorbell(tmp_path / "bells"), Doorbell(tmp_path / "bells")
    await consumer_bell.open()
    await producer_bell.open()
    applied: list[str] = []
    consumer = consumer_of(db, broker, consumer_bell, applied)
    producer = payments_producer(broker.bootstrap_servers, producer_bell)
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=2)
        await producer.start()
        async with running(consumer):
            kafka = consumer.consumer
            assert kafka is not None
            # Quiet: every partition it holds is paused, no fetch goes out.
            await until(lambda: bool(kafka.assignment()) and kafka.paused() == kafka.assignment())
            assert consumer.listener is not None and consumer.listener.woken == 0

            await send(producer, 1)
            await until(lambda: applied == ["p-1"])
            assert consumer.listener.woken >= 1
            assert producer_bell.rings_sent == 1 and consumer_bell.rings_heard == 1

            await until(lambda: kafka.paused() == kafka.assignment())  # quiet again
            await asyncio.sleep(0.3)  # the fetcher is asleep too: it wakes rarely on its own
            await send(producer, 2)
            # The resume, not the fetcher's own wake-up, sends the fetch: the message is in
            # well before that.
            await until(lambda: applied == ["p-1", "p-2"], timeout_s=PAUSED_FETCHER_WAKE_MS / 1000 / 2)
    finally:
        await producer.stop()
        consumer_bell.close()
        producer_bell.close()


async def test_a_message_no_ring_announced_is_found_after_the_safety_interval(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (0.2, 0.4))
    bell = Doorbell(tmp_path / "bells")
    await bell.open()
    applied: list[str] = []
    consumer = consumer_of(db, broker, bell, applied)
    outsider = payments_producer(broker.bootstrap_servers)  # rings nobody
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await outsider.start()
        async with running(consumer):
            kafka = consumer.consumer
            assert kafka is not None
            await until(lambda: bool(kafka.assignment()) and kafka.paused() == kafka.assignment())
            await send(outsider, 1)
            await until(lambda: applied == ["p-1"])
            assert bell.rings_heard == 0
    finally:
        await outsider.stop()
        bell.close()


async def test_a_ring_reaches_every_process_of_the_stack_for_its_topics_only(tmp_path: Path) -> None:
    bells = [Doorbell(tmp_path / "bells", name=f"p{i}") for i in range(3)]
    for bell in bells:
        await bell.open()
    payments = bells[1].listener([PAYMENTS_EVENTS])
    accounts = bells[2].listener([ACCOUNTS_EVENTS])
    # A process killed without closing its doorbell left its file behind: forgotten.
    dead = tmp_path / "bells" / f"{2**22 + 12345}.1"
    dead.touch()
    try:
        bells[0].ring([(PAYMENTS_EVENTS, None, None, 0, 1), (PAYMENTS_EVENTS, "accounts", None, 1, 3)])
        await until(lambda: all(bell.rings_heard == 1 for bell in bells))
        assert payments.rung and not accounts.rung
        assert not dead.exists()
        bells[0].ring([])  # nothing sent, nothing rung
        await asyncio.sleep(0.05)
        assert [bell.rings_heard for bell in bells] == [1, 1, 1]
    finally:
        for bell in bells:
            bell.close()
    assert list((tmp_path / "bells").iterdir()) == []


def test_a_consumer_is_rung_only_for_the_types_it_handles_and_for_messages_of_no_type() -> None:
    """The gateway's notifications read accounts.events for a frozen account, not for the
    holds of every payment: a ring for those brings no look."""

    def rung(ring: str) -> bool:
        bell = Doorbell("unused")
        listener = bell.listener([ACCOUNTS_EVENTS], types=[acc.AccountFrozen.TYPE])
        bell.heard(ring.encode())
        return listener.rung

    assert rung(f"{ACCOUNTS_EVENTS}/0@4#{acc.AccountFrozen.TYPE}")
    assert rung(
        f"{ACCOUNTS_EVENTS}/0@4>payments#{acc.FundsReserved.TYPE}\n{ACCOUNTS_EVENTS}/1@2#{acc.AccountFrozen.TYPE}"
    )
    assert rung(f"{ACCOUNTS_EVENTS}/0@4")  # a message without a type: looked at
    assert not rung(f"{ACCOUNTS_EVENTS}/0@4>payments#{acc.FundsReserved.TYPE}")
    assert not rung(f"{PAYMENTS_EVENTS}/0@4#{acc.AccountFrozen.TYPE}")  # another topic


def test_a_consumer_of_its_own_replies_is_rung_for_those_and_for_messages_nobody_caused() -> None:
    def rung(ring: str, replies_for: str | None = "securities") -> bool:
        bell = Doorbell("unused")
        listener = bell.listener([ACCOUNTS_EVENTS], replies_for=replies_for)
        bell.heard(ring.encode())
        return listener.rung

    assert rung(f"{ACCOUNTS_EVENTS}>securities")
    assert rung(ACCOUNTS_EVENTS)  # nobody's command caused it: it may be for anyone
    assert rung(f"{PAYMENTS_EVENTS}\n{ACCOUNTS_EVENTS}>securities")
    assert not rung(f"{ACCOUNTS_EVENTS}>payments")
    assert not rung(f"{PAYMENTS_EVENTS}>securities")  # not a topic it reads
    assert rung(f"{ACCOUNTS_EVENTS}>payments", replies_for=None)  # a consumer of every message


async def test_a_consumer_of_its_own_replies_rests_while_a_busy_topic_carries_only_others(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """securities takes from accounts.events only the replies to its own commands. While the
    topic is busy with payments' replies, their rings do not wake it: it stays paused as on
    a quiet topic (no fetch, no commit) instead of reading them as they come; its own
    reply's ring brings it at once."""
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))  # only a ring can wake it
    consumer_bell, producer_bell = Doorbell(tmp_path / "bells"), Doorbell(tmp_path / "bells")
    await consumer_bell.open()
    await producer_bell.open()
    applied: list[str] = []

    async def record(_state: Any, _envelope: Envelope, message: Any) -> None:
        applied.append(message.hold_id)

    consumer = ConsumerLoop(
        name="securities",
        db=db,
        tables=tables,
        bootstrap_servers=broker.bootstrap_servers,
        topics=[ACCOUNTS_EVENTS],
        handlers={acc.HoldReleased.TYPE: record},
        replies_for="securities",
        source="securities",
        keys=keys("securities"),
        doorbell=consumer_bell,
    )
    accounts = Producer(broker.bootstrap_servers, client_id="accounts", keys=keys("accounts"), doorbell=producer_bell)

    async def reply(hold_id: str, to: str, copies: int = 1) -> None:
        envelope = Envelope.wrap(acc.HoldReleased(account_id="a-1", hold_id=hold_id, amount_minor=1), source="accounts")
        headers = [("type", envelope.type.encode()), ("causation-source", to.encode())]
        await accounts.send_many([(ACCOUNTS_EVENTS, "a-1", envelope.to_bytes(), headers)] * copies)

    try:
        await ensure_topics(broker.bootstrap_servers, [ACCOUNTS_EVENTS], partitions=2)
        await accounts.start()
        async with running(consumer):
            kafka, listener = consumer.consumer, consumer.listener
            assert kafka is not None and listener is not None

            def resting() -> bool:
                return bool(kafka.assignment()) and kafka.paused() == kafka.assignment()

            await until(resting)
            # payments' replies, twenty every 5 ms: a look always finds some.
            stop = asyncio.Event()

            async def stream() -> None:
                n = 0
                while not stop.is_set():
                    await reply(f"payments-{n}", to="payments", copies=20)
                    n += 1
                    await asyncio.sleep(0.005)

            streaming = asyncio.create_task(stream())
            try:
                await asyncio.sleep(0.5)
                assert resting() and listener.woken == 0  # others' rings do not wake it
                await reply("securities-1", to="securities")
                await until(lambda: applied == ["securities-1"], timeout_s=2)
                assert listener.woken == 1
                # Awake, its looks find others' messages; it rests again all the same once it
                # has had none of its own for a while, and stays at rest.
                await until(resting, timeout_s=3)
                for _ in range(25):
                    await asyncio.sleep(0.02)
                    assert resting()
            finally:
                stop.set()
                await streaming
            assert applied == ["securities-1"]
    finally:
        await accounts.stop()
        consumer_bell.close()
        producer_bell.close()


async def test_one_group_member_carries_another_loops_topics_each_applied_on_its_own_inbox(
    db: Database, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """accounts' ledger and compliance: one member of one group fetches both topics and
    heartbeats once; each loop applies its own topic's messages in its own transaction and
    records them in the inbox under its own name."""
    bell = Doorbell(tmp_path / "bells")
    await bell.open()
    payments_done: list[str] = []
    holds: list[str] = []

    async def hold(_state: Any, _envelope: Envelope, message: Any) -> None:
        holds.append(message.hold_id)

    carrier = consumer_of(db, broker, bell, payments_done)
    carried = ConsumerLoop(
        name="gateway-holds",
        db=db,
        tables=tables,
        bootstrap_servers=broker.bootstrap_servers,
        topics=[ACCOUNTS_EVENTS],
        handlers={acc.HoldReleased.TYPE: hold},
        source="gateway",
        keys=keys("gateway"),
        doorbell=bell,
        carrier=carrier,
    )
    assert carried.listener is carrier.listener and carried.group == carrier.name
    payments = payments_producer(broker.bootstrap_servers, bell)
    accounts = Producer(broker.bootstrap_servers, client_id="accounts", keys=keys("accounts"), doorbell=bell)
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS, ACCOUNTS_EVENTS], partitions=2)
        await payments.start()
        await accounts.start()
        await carried.start()
        async with running(carrier):
            kafka = carrier.consumer
            assert kafka is not None and carried.consumer is None
            assert kafka.subscription() == {PAYMENTS_EVENTS, ACCOUNTS_EVENTS}
            await until(lambda: len(kafka.assignment()) == 4)
            released = Envelope.wrap(
                acc.HoldReleased(account_id="a-1", hold_id="h-1", amount_minor=1), source="accounts"
            )
            await accounts.send_many(
                [(ACCOUNTS_EVENTS, "a-1", released.to_bytes(), [("type", released.type.encode())])] * 2
            )
            await send(payments, 1)
            await until(lambda: payments_done == ["p-1"] and holds == ["h-1"])
            assert carried.applied == 1 and carried.duplicates == 1 and carrier.applied == 1
            async with db.read() as session:
                rows = (await session.execute(select(tables.inbox.c.consumer))).scalars().all()
            assert sorted(rows) == ["gateway-holds", "gateway-notifications"]
            assert {topic for topic, _ in await carried.partition_lag()} == {ACCOUNTS_EVENTS}
            assert {topic for topic, _ in await carrier.partition_lag()} == {PAYMENTS_EVENTS}
    finally:
        await carried.stop()
        await payments.stop()
        await accounts.stop()
        bell.close()


class Ringing(NamedTuple):
    consumer: ConsumerLoop
    kafka: Any  # its AIOKafkaConsumer
    listener: Listener
    producer: Producer
    bell: Doorbell
    applied: list[str]


@contextlib.asynccontextmanager
async def ringing(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, partitions: int, fetch_max_wait_ms: int = 100
) -> AsyncIterator[Ringing]:
    """A consumer of payments.events and a producer that rings, on one doorbell, the
    consumer running and at rest (every partition it holds paused)."""
    bell = Doorbell(tmp_path / "bells")
    await bell.open()
    applied: list[str] = []
    consumer = consumer_of(db, broker, bell, applied)
    consumer.fetch_max_wait_ms = fetch_max_wait_ms
    producer = payments_producer(broker.bootstrap_servers, bell)
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=partitions)
        await producer.start()
        async with running(consumer):
            kafka, listener = consumer.consumer, consumer.listener
            assert kafka is not None and listener is not None
            await until(lambda: bool(kafka.assignment()) and kafka.paused() == kafka.assignment())
            yield Ringing(consumer, kafka, listener, producer, bell, applied)
    finally:
        await producer.stop()
        bell.close()


async def test_a_busy_consumer_fetches_what_each_ring_announced_and_holds_no_fetch(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under steady traffic a consumer pauses its partitions from the end of each look to
    the next ring, so no fetch of aiokafka's own is left for the broker to hold while a
    message comes. Here the broker may hold a fetch for 5 s: a consumer that left one out
    between two messages would take that long for the second; this one takes each message
    as its ring comes (30 messages, 30 ms apart, all in well under one held fetch)."""
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))  # only rings bring looks
    async with ringing(db, broker, tmp_path, partitions=2, fetch_max_wait_ms=5000) as r:
        began = asyncio.get_running_loop().time()
        for n in range(30):
            await send(r.producer, n)
            await asyncio.sleep(0.03)
        await until(lambda: len(r.applied) == 30, timeout_s=4.5)
        assert r.applied == [f"p-{n}" for n in range(30)]
        assert asyncio.get_running_loop().time() - began < 4.5
        assert r.kafka.paused() == r.kafka.assignment()  # resting between rings


async def test_a_ring_for_what_a_consumer_has_read_or_does_not_hold_brings_no_look(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ring names each partition and the offset past what was sent there: a look is due
    only for messages past the consumer's position on a partition it holds. A ring that
    comes after the consumer has already fetched those messages (it may fetch them between
    the broker's answer and the ring) would otherwise cost a fetch that finds nothing."""
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))
    async with ringing(db, broker, tmp_path, partitions=1) as r:
        await send(r.producer, 1)  # offset 0 of partition 0: its ring announces 0@1
        await until(lambda: r.applied == ["p-1"])
        await until(lambda: r.kafka.paused() == r.kafka.assignment())

        r.bell.heard(f"{PAYMENTS_EVENTS}/0@1".encode())  # read already
        r.bell.heard(f"{PAYMENTS_EVENTS}/3@9".encode())  # a partition it does not hold
        r.bell.heard(f"{ACCOUNTS_EVENTS}/0@9".encode())  # a topic it does not read
        assert not r.listener.due(r.kafka)
        r.bell.heard(f"{PAYMENTS_EVENTS}/0@2".encode())  # one more than it read
        assert r.listener.due(r.kafka)

        # The broker was lost: the new one numbers from 0 again, and what the old one's
        # rings announced is forgotten (or each look would find nothing, over and over).
        r.bell.heard(f"{PAYMENTS_EVENTS}/0@5000".encode())
        r.consumer.rewind()
        await until(lambda: r.consumer.rewinds == 1 and r.consumer.duplicates == 1)  # p-1 read again
        await until(lambda: r.kafka.paused() == r.kafka.assignment())
        assert not r.listener.due(r.kafka)


def test_a_ring_names_each_partition_once_with_the_highest_end() -> None:
    heard: list[bytes] = []
    bell = Doorbell("unused")
    bell._transport = SimpleNamespace(sendto=lambda data, _addr: heard.append(data))  # type: ignore[assignment]
    bell._peer_ports = lambda: [1]  # type: ignore[method-assign]
    bell.ring(
        [
            (PAYMENTS_EVENTS, None, None, 0, 3),
            (PAYMENTS_EVENTS, None, None, 0, 7),
            (PAYMENTS_EVENTS, None, None, 1, 2),
            (ACCOUNTS_EVENTS, "payments", "accounts.FundsReserved", 0, 4),
            (ACCOUNTS_EVENTS, "payments", "accounts.FundsReserved", 0, 2),
            (ACCOUNTS_EVENTS, "payments", "accounts.FundsCaptured", 0, 3),
            (ACCOUNTS_EVENTS, None, None, None, None),
        ]
    )
    assert heard == [
        "\n".join(
            [
                ACCOUNTS_EVENTS,
                f"{ACCOUNTS_EVENTS}/0@3>payments#accounts.FundsCaptured",
                f"{ACCOUNTS_EVENTS}/0@4>payments#accounts.FundsReserved",
                f"{PAYMENTS_EVENTS}/0@7",
                f"{PAYMENTS_EVENTS}/1@2",
            ]
        ).encode()
    ]
    assert [doorbell_module._parse(line) for line in heard[0].decode().split("\n")][:2] == [
        (ACCOUNTS_EVENTS, None, None, None, None),
        (ACCOUNTS_EVENTS, "payments", "accounts.FundsCaptured", 0, 3),
    ]


async def test_rings_that_keep_coming_are_looked_at_once_a_gap_and_a_lone_ring_at_once(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message every 10 ms for a second, with looks at least half a second apart: a few
    looks take all hundred, in order; after a quiet spell, the next ring is looked at at
    once, not a gap later."""
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))
    monkeypatch.setattr(doorbell_module, "LOOK_GAP_S", 0.5)
    async with ringing(db, broker, tmp_path, partitions=1) as r:
        clock = asyncio.get_running_loop().time
        looks: list[tuple[float, float]] = []  # each look's start and end
        look = r.listener.look

        async def timed(consumer: Any, max_records: int) -> Any:
            began = clock()
            try:
                return await look(consumer, max_records)
            finally:
                looks.append((began, clock()))

        r.listener.look = timed  # type: ignore[method-assign]
        began = clock()
        for n in range(100):
            await send(r.producer, n)
            await asyncio.sleep(0.01)
        await until(lambda: len(r.applied) == 100, timeout_s=5)
        took = clock() - began
        assert r.applied == [f"p-{n}" for n in range(100)]
        # Each look starts a gap after the last one ended (a little less: the loop's clock
        # and asyncio's timers round), so however long a busy machine takes to send the
        # hundred, the looks number about one a gap over that time, not one a message.
        spacing = [start - end for (_, end), (start, _) in itertools.pairwise(looks)]
        assert min(spacing) >= 0.49, spacing
        assert len(looks) <= took / 0.5 + 2, (len(looks), took)

        await asyncio.sleep(1.0)  # quiet: the gap since the last look has passed
        sent = asyncio.get_running_loop().time()
        await send(r.producer, 100)
        await until(lambda: len(r.applied) == 101, timeout_s=5)
        assert asyncio.get_running_loop().time() - sent < 0.4  # not held for a gap


@pytest.mark.parametrize("replies_for", [None, "securities"])
async def test_a_backlog_no_ring_announced_is_read_batch_after_batch(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replies_for: str | None
) -> None:
    """Messages no ring announced (sent before the consumer started, or while the broker was
    lost with its rings) and more than one look takes: the broker's answer tells the
    consumer it is behind, and it looks again at once instead of one batch a safety
    interval. A consumer of its own replies catches up on others' messages so too: its lag
    is what a drain waits for."""
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))  # only what the broker said brings a look
    bell = Doorbell(tmp_path / "bells")
    await bell.open()
    applied: list[str] = []
    consumer = consumer_of(db, broker, bell, applied, replies_for=replies_for, max_batch=50)
    outsider = payments_producer(broker.bootstrap_servers)  # rings nobody
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS], partitions=1)
        await outsider.start()
        for n in range(0, 400, 100):
            envelopes = [Envelope.wrap(completed(n + i), source="payments") for i in range(100)]
            headers = [("type", b"payments.PaymentCompleted"), ("causation-source", b"payments")]
            await outsider.send_many([(PAYMENTS_EVENTS, "k", e.to_bytes(), headers) for e in envelopes])
        async with running(consumer):
            await _until_caught_up(consumer, timeout_s=10)
        if replies_for is None:
            assert applied == [f"p-{n}" for n in range(400)]
        else:
            assert applied == []  # payments' replies: not its own
        assert bell.rings_heard == 0
    finally:
        await outsider.stop()
        bell.close()


async def _until_caught_up(consumer: ConsumerLoop, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await consumer.lag() or not consumer.consumer or not consumer.consumer.assignment():
        assert asyncio.get_running_loop().time() < deadline, f"still {await consumer.lag()} behind"
        await asyncio.sleep(0.05)


async def test_messages_of_types_a_consumer_does_not_handle_ring_for_no_look_and_are_read_later(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other types on its topic do not bring the consumer back; the next look for its own
    type reads past them (and the safety look does, should none come: see
    test_a_message_no_ring_announced_is_found_after_the_safety_interval)."""
    monkeypatch.setattr(doorbell_module, "SAFETY_S", (600.0, 600.0))
    async with ringing(db, broker, tmp_path, partitions=1) as r:

        async def other(n: int) -> None:
            headers = [("type", b"payments.PaymentAuthorised")]
            await r.producer.send_many([(PAYMENTS_EVENTS, "k", b'{"n": %d}' % n, headers)])

        for n in range(5):
            await other(n)
        await asyncio.sleep(0.3)
        assert r.listener.woken == 0 and await r.consumer.lag() == 5  # rung, but not for it
        assert r.kafka.paused() == r.kafka.assignment()

        await send(r.producer, 1)
        await until(lambda: r.applied == ["p-1"], timeout_s=2)
        assert r.listener.woken == 1
        await _until_caught_up(r.consumer, timeout_s=2)  # the others read on the way
