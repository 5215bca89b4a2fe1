"""A Sandbank process's runtime: its database, producer, outbox relay, consumers and
background loops, started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import MetaData

from shared.auth import TokenIssuer
from shared.clock import Clock
from shared.db import Database
from shared.events.topics import dlq
from shared.kafka.consumer import ConsumerLoop, Handler, Prefetch
from shared.kafka.faults import Faults
from shared.kafka.messaging import MessagingTables, UnitOfWork
from shared.kafka.producer import Producer, ensure_topics
from shared.kafka.relay import OutboxRelay
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    name: str  # the consumer group
    topics: list[str]
    handlers: Mapping[str, Handler]
    # Loads what a whole batch will touch in a few queries, before its handlers run.
    prefetch: Prefetch | None = None
    # For sagas listening to accounts.events: skip replies to other services' commands.
    replies_only: bool = False


def every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    """A background loop (for `Runtime.background`) running `job` every `interval_s`
    seconds: saga timeout sweepers, the market ticker. A failed run is logged and the
    next one goes ahead as planned."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again in %.1fs", name, interval_s)

    loop.__name__ = name
    return loop


class LoopWatch:
    """How late the event loop runs a timer: a blocked loop (a long query, a big batch, a
    collection) delays every request of the process by as much. Logged when one stall
    passes `warn_s`, and exported on /metrics as the worst since the last scrape."""

    def __init__(self, interval_s: float = 0.05, warn_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.warn_s = warn_s
        self.worst_s = 0.0
        self.stalls = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            late = loop.time() - due
            self.worst_s = max(self.worst_s, late)
            if late >= self.warn_s:
                self.stalls += 1
                log.warning("event loop blocked for %.0f ms", late * 1000)

    def take_worst(self) -> float:
        worst, self.worst_s = self.worst_s, 0.0
        return worst


class Runtime:
    """Owns a process's connections and background tasks; started by the lifespan."""

    def __init__(
        self,
        settings: Settings,
        *,
        metadata: MetaData,
        tables: MessagingTables,
        topics: Iterable[str] = (),
        consumers: Iterable[ConsumerSpec] = (),
        on_start: Callable[[Runtime], Awaitable[None]] | None = None,
        clock: Clock | None = None,
        background: Iterable[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.clock = clock or Clock()
        # Long-running loops beside the consumers (saga timeout sweepers, simulators).
        self.background = list(background)
        self.settings = settings
        self.service = settings.service
        self.metadata = metadata
        self.tables = tables
        self.topics = list(topics)
        self.consumer_specs = list(consumers)
        self.on_start = on_start
        self.db = Database(
            settings.db.url,
            echo=settings.db.echo,
            pool_size=settings.db.pool_size,
            sqlite_inline=settings.db.sqlite_inline,
        )
        self.tokens = TokenIssuer(settings.auth)
        self.producer = Producer(settings.kafka.bootstrap_servers, client_id=settings.service)
        self.relay = OutboxRelay(self.db, tables, self.producer, batch_size=settings.kafka.max_batch)
        self.faults = Faults()
        self.loop_watch = LoopWatch()
        self.relay.tamper = self.faults.tamper
        # Extra work for POST /internal/reset beyond emptying the tables and seeding again.
        self.on_reset: list[Callable[[], Awaitable[None]]] = []
        self.consumers = [
            ConsumerLoop(
                name=spec.name,
                db=self.db,
                tables=tables,
                bootstrap_servers=settings.kafka.bootstrap_servers,
                topics=spec.topics,
                handlers=spec.handlers,
                prefetch=spec.prefetch,
                replies_for=settings.service if spec.replies_only else None,
                source=settings.service,
                max_batch=settings.kafka.max_batch,
                max_attempts=settings.kafka.max_attempts,
                retry_backoff_ms=settings.kafka.retry_backoff_ms,
                session_timeout_ms=settings.kafka.session_timeout_ms,
                fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
            )
            for spec in self.consumer_specs
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.tables, source=self.service)

    async def start(self) -> None:
        await self.db.create_all(self.metadata)
        topics = set(self.topics)
        for spec in self.consumer_specs:
            topics.update(spec.topics)
            topics.update(dlq(t) for t in spec.topics)
        await ensure_topics(self.settings.kafka.bootstrap_servers, topics, partitions=self.settings.kafka.partitions)
        await self.producer.start()
        for consumer in self.consumers:
            await consumer.start()
        self._tasks.append(asyncio.create_task(self._supervise("outbox-relay", self.relay.run)))
        self._tasks.append(asyncio.create_task(self._supervise("loop-watch", self.loop_watch.run)))
        self._tasks.append(
            asyncio.create_task(self._supervise("wal-checkpoint", every(1.0, "wal checkpoint", self.db.checkpoint)))
        )
        for consumer in self.consumers:
            self._tasks.append(asyncio.create_task(self._supervise(consumer.name, consumer.run)))
        if self.on_start is not None:
            await self.on_start(self)
        for loop in self.background:
            self._tasks.append(asyncio.create_task(self._supervise(getattr(loop, "__name__", "task"), loop)))
        self.started = True
        _tune_gc()
        log.info("%s started", self.service)

    async def stop(self) -> None:
        self.started = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        # Each step on its own: a broker already gone must not keep the database open.
        for consumer in self.consumers:
            await _quietly(consumer.stop(), f"stopping consumer {consumer.name}")
        # One last drain so a clean shutdown leaves nothing unpublished.
        await _quietly(asyncio.wait_for(self.relay.drain_once(), timeout=2), "draining the outbox")
        await _quietly(self.producer.stop(), "stopping the producer")
        await _quietly(self.db.dispose(), "closing the database")

    async def reset(self) -> None:
        """Back to the seed state: empty every table of this service, set the sandbox clock
        back to real time, then seed again."""
        self.clock.offset = timedelta(0)
        async with self.db.write() as session, session.begin():
            for table in reversed(self.metadata.sorted_tables):
                await session.execute(table.delete())
        for hook in self.on_reset:
            await hook()
        if self.on_start is not None:
            await self.on_start(self)

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        delay = 0.1
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s crashed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def readiness(self) -> dict[str, Any]:
        checks = {
            "database": await self.db.ping(),
            "kafka_producer": self.producer.started,
            "outbox_relay": self.relay.healthy,
            "consumers": all(c.running for c in self.consumers),
            "started": self.started,
        }
        return checks


async def _quietly(step: Awaitable[Any], what: str) -> None:
    try:
        await step
    except (Exception, asyncio.CancelledError) as exc:
        log.warning("%s failed during shutdown: %r", what, exc)


def _tune_gc() -> None:
    """Fewer, cheaper garbage collections once a process is up: what start-up loaded
    (modules, tables, routes) is frozen out of the collector's scans, and the young
    generation is collected less often. A request or a consumer batch allocates many
    short-lived objects; with the defaults a full collection over everything now and
    then showed up as tail latency on the payment path."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
