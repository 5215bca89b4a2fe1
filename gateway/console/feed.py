"""The console's live event feed: every `*.events` topic as it arrives, the last
`FEED_SIZE` messages kept in memory for the operators' page.

The reader is a Kafka consumer of its own with no group: the broker assigns it every
partition, it starts at the end offsets and commits nothing, so the notification
consumer's group never sees it. A reader waits on the feed's `asyncio.Event`, set at
each new message: no sleep on the way of a message to the page.

A message is kept as it came and read (its JSON, its customer, its trace) only when a
page asks for it: every transfer passes through the feed several times, and most of
them with no console open."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from shared.aio import within
from shared.events import topics
from shared.kafka.consumer import PAUSED_FETCHER_WAKE_MS
from shared.kafka.doorbell import Doorbell
from shared.tracing import TRACEPARENT

log = logging.getLogger(__name__)

FEED_SIZE = 2000
FEED_TOPICS = tuple(t for t in topics.ALL if t.endswith(".events"))


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


def _event(seq: int, record: ConsumerRecord[Any, Any], received_unix: float) -> FeedEvent:
    try:
        body = orjson.loads(record.value) if record.value else {}
    except orjson.JSONDecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    try:
        sent = datetime.fromisoformat(str(body.get("time")))
    except ValueError:
        sent = datetime.fromtimestamp(record.timestamp / 1000, UTC)
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
        self._kept: deque[_Kept] = deque(maxlen=size)
        self.seq = 0
        self.received = 0
        self._arrived = asyncio.Event()
        # (monotonic time, topic) of the last minute's messages, for the rates.
        self._times: deque[tuple[float, str]] = deque(maxlen=20_000)

    def add(self, record: ConsumerRecord[Any, Any]) -> None:
        self.seq += 1
        self._kept.append(_Kept(self.seq, record, time.time()))
        self.received += 1
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
    """The gateway's background loop that fills the feed (a `Runtime.background` job)."""

    def __init__(
        self, feed: EventFeed, bootstrap_servers: str, client_id: str, doorbell: Doorbell | None = None
    ) -> None:
        self.feed = feed
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.running = False
        # Quiet, it waits for a producer's ring rather than polling (shared/kafka/doorbell.py).
        self.listener = doorbell.listener(FEED_TOPICS) if doorbell is not None else None

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *FEED_TOPICS,
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
        self.running = True
        try:
            while True:
                if self.listener is None:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                elif not (batches := await self.listener.look(consumer, 500)):
                    await self.listener.wait(consumer)
                for records in batches.values():
                    for record in records:
                        self.feed.add(record)
        finally:
            self.running = False
            await consumer.stop()
