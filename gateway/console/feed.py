"""The console's live event feed: every `*.events` topic as it arrives, the last
`FEED_SIZE` messages kept in memory for the operators' page.

The reader is a Kafka consumer of its own with no group: it assigns itself every
partition and commits nothing, so the notification consumer's group never sees it. A
reader waits on the feed's `asyncio.Event`, set at each new message: no sleep on the way
of a message to the page.

It reads only while a page reads the feed. The first page to ask starts it: it reads the
newest `FEED_SIZE` messages the broker keeps (those before the gateway started too), adds
them in the order they were sent, and then follows the topics; `IDLE_S` after the last
page asked it stops. A stack nobody watches then spends nothing on the feed: under load
its consumer fetched every message of every `*.events` topic a second time, after the
notification consumer, and at rest it asked the broker for metadata every 5 s.

A message is kept as it came and read (its JSON, its customer, its trace) only when a
page asks for it: every transfer passes through the feed several times."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.aio import within
from shared.events import topics
from shared.kafka.consumer import PAUSED_FETCHER_WAKE_MS
from shared.kafka.doorbell import Doorbell
from shared.tracing import TRACEPARENT

log = logging.getLogger(__name__)

FEED_SIZE = 2000
FEED_TOPICS = tuple(t for t in topics.ALL if t.endswith(".events"))
# A reader no page has asked for this long stops (a console page asks at least every 20 s).
IDLE_S = 60.0
# How long a page's first question waits for a starting reader to read the newest messages.
START_WAIT_S = 3.0
# How long a starting reader may take to read them before it follows the topics anyway.
CATCH_UP_S = 5.0


@dataclass(frozen=True)
class FeedEvent:
    seq: int
    topic: str
    type: str
    key: str | None
    customer_id: str | None
    correlation_id: str | None
    trace_id: str | None
    message_id: str | None
    time: datetime
    received_unix: float


def trace_id_of(headers: Iterable[tuple[str, bytes | None]]) -> str | None:
    """The trace id of a message's `traceparent` header (00-<trace id>-<span id>-<flags>)."""
    for name, value in headers:
        if name == TRACEPARENT and value:
            parts = value.decode(errors="replace").split("-")
            if len(parts) == 4 and len(parts[1]) == 32:
                return parts[1]
    return None


def customer_of(data: Any) -> str | None:
    """The customer a message is about, where its payload names one (`customer_id`, or
    the first `*_customer_id`)."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("customer_id"), str):
        return str(data["customer_id"])
    for name, value in data.items():
        if name.endswith("customer_id") and isinstance(value, str):
            return value
    return None


class _Kept:
    """A message as the feed keeps it: read into its `FeedEvent` when first asked for."""

    __slots__ = ("event", "received_unix", "record", "seq")

    def __init__(self, seq: int, record: ConsumerRecord[Any, Any], received_unix: float) -> None:
        self.seq = seq
        self.record = record
        self.received_unix = received_unix
        self.event: FeedEvent | None = None

    def read(self) -> FeedEvent:
        if self.event is None:
            self.event = _event(self.seq, self.record, self.received_unix)
        return self.event


def _body(record: ConsumerRecord[Any, Any]) -> dict[str, Any]:
    try:
        body = orjson.loads(record.value) if record.value else {}
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _sent(body: dict[str, Any], record: ConsumerRecord[Any, Any]) -> datetime:
    """When the message was sent: its envelope's `time` (to the microsecond), else the
    record's timestamp (to the millisecond)."""
    try:
        sent = datetime.fromisoformat(str(body.get("time")))
    except ValueError:
        return datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)


def _event(seq: int, record: ConsumerRecord[Any, Any], received_unix: float) -> FeedEvent:
    body = _body(record)
    sent = _sent(body, record)
    key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else None
    return FeedEvent(
        seq=seq,
        topic=record.topic,
        type=str(body.get("type") or "unknown"),
        key=key,
        customer_id=customer_of(body.get("data")),
        correlation_id=body.get("correlation_id") if isinstance(body.get("correlation_id"), str) else None,
        trace_id=trace_id_of(record.headers or ()),
        message_id=body.get("id") if isinstance(body.get("id"), str) else None,
        time=sent,
        received_unix=received_unix,
    )


class EventFeed:
    """The ring of recent messages and the `seq` each got; `wait` blocks until a message
    after a given `seq` arrives."""

    def __init__(self, size: int = FEED_SIZE) -> None:
        self.size = size
        self._kept: deque[_Kept] = deque(maxlen=size)
        self.seq = 0
        self.received = 0
        self._arrived = asyncio.Event()
        # (monotonic time, topic) of the last minute's messages, for the rates.
        self._times: deque[tuple[float, str]] = deque(maxlen=20_000)

    def add(self, record: ConsumerRecord[Any, Any], *, arrived: bool = True) -> None:
        """Keep a message; one read from the past (`arrived` False, a starting reader's
        newest messages) does not count toward the rates."""
        self.seq += 1
        self._kept.append(_Kept(self.seq, record, time.time()))
        self.received += 1
        if arrived:
            self._times.append((time.monotonic(), record.topic))
        # Wake every waiting reader, and give the next ones a fresh event to wait on.
        self._arrived.set()
        self._arrived = asyncio.Event()

    def after(self, seq: int, limit: int, **filters: str | None) -> list[FeedEvent]:
        """The messages after `seq`, oldest first, that match every given filter."""
        wanted = {k: v for k, v in filters.items() if v}
        found = []
        for kept in self._kept:
            if kept.seq <= seq:
                continue
            event = kept.read()
            if all(getattr(event, name) == value for name, value in wanted.items()):
                found.append(event)
                if len(found) == limit:
                    break
        return found

    async def wait(self, seq: int, limit: int, timeout_s: float, **filters: str | None) -> list[FeedEvent]:
        """`after(seq, ...)`, waiting up to `timeout_s` for a matching message to arrive."""
        deadline = time.monotonic() + timeout_s
        while True:
            arrived = self._arrived
            found = self.after(seq, limit, **filters)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            try:
                await within(arrived.wait(), left)
            except TimeoutError:
                return []

    def rates(self, window_s: float = 10.0) -> dict[str, float]:
        """Messages per second on each topic over the last `window_s`."""
        since = time.monotonic() - window_s
        counts: dict[str, int] = {}
        for at, topic in reversed(self._times):
            if at < since:
                break
            counts[topic] = counts.get(topic, 0) + 1
        return {topic: round(n / window_s, 2) for topic, n in counts.items()}


class FeedReader:
    """The gateway's background loop that fills the feed while pages read it (a
    `Runtime.background` job); `wanted` is how a page says it reads."""

    def __init__(
        self,
        feed: EventFeed,
        bootstrap_servers: str,
        client_id: str,
        doorbell: Doorbell | None = None,
        *,
        idle_s: float = IDLE_S,
    ) -> None:
        self.feed = feed
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.idle_s = idle_s
        # Quiet, it waits for a producer's ring rather than polling (shared/kafka/doorbell.py).
        self.listener = doorbell.listener(FEED_TOPICS) if doorbell is not None else None
        self._asked = asyncio.Event()
        self._live = asyncio.Event()  # set while it follows the topics
        self._asked_at = float("-inf")
        # Where each partition's next unread message is: a reader started again reads on
        # from there (or from the newest FEED_SIZE), never a message twice.
        self._next: dict[TopicPartition, int] = {}

    @property
    def running(self) -> bool:
        """Whether it follows the topics now (a page read the feed within `idle_s`)."""
        return self._live.is_set()

    async def wanted(self, wait_s: float = START_WAIT_S) -> None:
        """A page reads the feed: keep the reader on, or start it and wait (up to
        `wait_s`) until it has read the newest messages, so the page's answer has them."""
        self._asked_at = time.monotonic()
        if not self._live.is_set():
            self._asked.set()
            with contextlib.suppress(TimeoutError):
                await within(self._live.wait(), wait_s)

    async def run(self) -> None:
        while True:
            await self._asked.wait()
            self._asked.clear()
            await self._follow()

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=100,
            metadata_max_age_ms=5000,
            # Paused between rings, aiokafka's fetcher would still wake every 200 ms (its
            # default) to find nothing to do: five wake-ups a second of an idle gateway.
            consumer_timeout_ms=PAUSED_FETCHER_WAKE_MS if self.listener is not None else 200,
        )
        await consumer.start()
        try:
            await consumer.topics()  # the partitions of every topic
            partitions = [
                TopicPartition(topic, p) for topic in FEED_TOPICS for p in consumer.partitions_for_topic(topic) or ()
            ]
            consumer.assign(partitions)
            await self._catch_up(consumer, partitions)
            self._live.set()
            while time.monotonic() - self._asked_at < self.idle_s:
                if self.listener is None:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                else:
                    batches = await self.listener.look(consumer, 500)
                for records in batches.values():
                    for record in records:
                        self._add(record)
                if self.listener is not None:
                    await self.listener.wait(consumer)  # until a ring announces more
        finally:
            self._live.clear()
            await consumer.stop()

    async def _catch_up(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Read what came since the reader last stopped, at most the newest FEED_SIZE of each
        partition, and add the newest FEED_SIZE of them all in the order they were sent."""
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        behind = {}
        for tp in partitions:
            start = min(ends[tp], max(starts[tp], ends[tp] - self.feed.size, self._next.get(tp, 0)))
            consumer.seek(tp, start)
            if start < ends[tp]:
                behind[tp] = ends[tp]
        read: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + CATCH_UP_S
        while behind and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(*behind, timeout_ms=200, max_records=2000)).items():
                read += (r for r in records if r.offset < behind[tp])
                if records and records[-1].offset + 1 >= behind[tp]:
                    consumer.pause(tp)
                    del behind[tp]
        consumer.resume(*partitions)
        # Followed from the ends read at first: what came meanwhile is read next, and a
        # partition not read in time leaves what it had unread behind for good.
        for tp in partitions:
            consumer.seek(tp, ends[tp])
            self._next[tp] = ends[tp]
        # In the order they were sent: the envelopes' times, since records sent within the
        # same millisecond share their timestamp.
        read.sort(key=lambda r: _sent(_body(r), r))
        for record in read[-self.feed.size :]:
            self.feed.add(record, arrived=False)

    def _add(self, record: ConsumerRecord[Any, Any]) -> None:
        self.feed.add(record)
        self._next[TopicPartition(record.topic, record.partition)] = record.offset + 1
