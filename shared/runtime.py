"""A Sandbank process's runtime: its database, producer, outbox relay, consumers and
background loops, started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.aio import next_beat, within
from shared.auth import TokenIssuer
from shared.clock import Clock
from shared.db import Database
from shared.events.envelope import utcnow
from shared.events.topics import dlq
from shared.kafka.consumer import BatchFactory, ConsumerLoop, Handler
from shared.kafka.doorbell import Doorbell
from shared.kafka.faults import Faults
from shared.kafka.messaging import MessagingTables, UnitOfWork
from shared.kafka.producer import Producer, ensure_topics
from shared.kafka.relay import OutboxRelay
from shared.kafka.watch import BrokerWatch
from shared.keys import Keyring
from shared.metrics import Metrics
from shared.migrations import Migrations, migrate
from shared.settings import Settings
from shared.tracing import Tracing

if TYPE_CHECKING:
    from shared.saga.store import SagaTable

log = logging.getLogger(__name__)

# How long each step of `Runtime.stop` may take before it is cancelled and stop moves on:
# with CANCEL_GRACE_S, one stuck step still fits in the local supervisor's 5 s grace
# before it sends SIGKILL.
STOP_STEP_S = 3.0
# What a cancelled step gets to unwind before it is left behind.
CANCEL_GRACE_S = 1.0
# A background loop that raises is run again after a backoff that starts at the first
# figure and doubles up to the second; one that had run this long before it raised starts
# from the first figure again.
SUPERVISE_BACKOFF_S = (0.1, 5.0)
SUPERVISE_CALM_S = 30.0


@dataclass(frozen=True)
class ConsumerSpec:
    name: str  # the consumer group
    topics: list[str]
    handlers: Mapping[str, Handler]
    # The working set each transaction's handlers get (shared.kafka.consumer.Batch);
    # without one they get the unit of work.
    batch: BatchFactory | None = None
    # For sagas listening to accounts.events: skip replies to other services' commands.
    replies_only: bool = False
    # The consumer group that brings it its messages, when not a group of its own: the
    # group of an earlier spec of the process, whose member then subscribes to this one's
    # topics too (`ConsumerLoop.carry`). It keeps its name for its inbox and dead letters.
    group: str | None = None
    # For a loop on no request's path: how long it may gather its member's records before
    # applying them in one transaction (`ConsumerLoop.gather_s`). 0: each fetch as it comes.
    gather_s: float = 0.0


def every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    """A background loop (for `Runtime.background`) running `job` on every beat of
    `interval_s` seconds (`next_beat`): saga timeout sweepers, the policy lifecycle, the
    market history. A failed run is logged and the next one goes ahead as planned."""

    async def loop() -> None:
        clock = asyncio.get_running_loop().time
        while True:
            now = clock()
            await asyncio.sleep(next_beat(now, interval_s) - now)
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
    passes `warn_s`, and exported on /metrics as the worst since the last scrape.

    It looks every `interval_s` while the process works, and every `idle_interval_s` once
    `busy_s` passed without work: watching twenty times a second was the largest share of
    what an idle process woke up for. Work is a request or a batch of messages coming in
    (`busy`, which cuts a long wait short, so the first stall of a busy spell is seen as
    before) or a look that came half a stall late (whatever ran meanwhile)."""

    def __init__(
        self,
        interval_s: float = 0.05,
        warn_s: float = 0.1,
        *,
        idle_interval_s: float = 1.0,
        busy_s: float = 2.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        # Given each tick's lateness (shared/metrics.py: a histogram).
        self.observe: Callable[[float], None] = _ignore
        self.interval_s = interval_s
        self.idle_interval_s = idle_interval_s
        self.busy_s = busy_s
        self.warn_s = warn_s
        # The loop's own clock unless given one (tests stall it without blocking anything).
        self.clock = clock
        self.worst_s = 0.0
        self.stalls = 0
        self.idle = False
        self._worked = False
        self._woken = asyncio.Event()

    def busy(self) -> None:
        """Work came in: look every `interval_s` again, from now."""
        self._worked = True
        if self.idle:
            self._woken.set()

    async def run(self) -> None:
        now = self.clock or asyncio.get_running_loop().time
        worked_at = now()
        while True:
            if self._worked:
                self._worked = False
                worked_at = now()
            self.idle = now() - worked_at >= self.busy_s
            if self.idle:
                due = next_beat(now(), self.idle_interval_s)
                self._woken.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self._woken.wait(), due - now())
                if self._woken.is_set():
                    continue  # woken early: nothing was due
            else:
                due = now() + self.interval_s
                await asyncio.sleep(self.interval_s)
            late = now() - due
            self.observe(late)
            self.worst_s = max(self.worst_s, late)
            if late >= self.warn_s / 2:
                self._worked = True
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
        migrations: Migrations,
        tables: MessagingTables,
        topics: Iterable[str] = (),
        consumers: Iterable[ConsumerSpec] = (),
        on_start: Callable[[Runtime], Awaitable[None]] | None = None,
        clock: Clock | None = None,
        background: Iterable[Callable[[], Awaitable[None]]] = (),
        group_suffix: str = "",
    ) -> None:
        self.clock = clock or Clock()
        # Long-running loops beside the consumers (saga timeout sweepers, simulators).
        self.background = list(background)
        # The tables its saga sweeper watches (shared.saga.store.sweep_sagas), which
        # GET /internal/sagas/stuck and POST /internal/sagas/holds read.
        self.saga_tables: list[SagaTable] = []
        self.settings = settings
        self.service = settings.service
        self.metadata = metadata
        self.migrations = migrations
        self.tables = tables
        self.topics = list(topics)
        self.consumer_specs = list(consumers)
        self.on_start = on_start
        self.db = Database(
            settings.db.url,
            echo=settings.db.echo,
            pool_size=settings.db.pool_size,
            sqlite_inline=settings.db.sqlite_inline,
            schema=settings.db.schema_name,
        )
        self.tracing = Tracing(settings.service, settings.tracing)
        self.keys = Keyring.load(settings.auth.keys_dir, settings.service)
        self.tokens = TokenIssuer(self.keys, settings.auth)
        kafka = settings.kafka
        self.doorbell = Doorbell(kafka.doorbell_dir, name=settings.service) if kafka.doorbell_dir else None
        self.producer = Producer(
            kafka.bootstrap_servers, client_id=settings.service, keys=self.keys, doorbell=self.doorbell
        )
        self.relay = OutboxRelay(
            self.db,
            tables,
            self.producer,
            batch_size=settings.kafka.max_batch,
            retention_s=settings.kafka.outbox_retention_s,
            tracing=self.tracing,
        )
        self.faults = Faults()
        self.loop_watch = LoopWatch()
        self.relay.tamper = self.faults.tamper
        # Extra work for POST /internal/reset beyond emptying the tables and seeding again.
        self.on_reset: list[Callable[[], Awaitable[None]]] = []
        self.consumers: list[ConsumerLoop] = []
        for spec in self.consumer_specs:
            carrier = None
            if spec.group is not None:
                carrier = next((c for c in self.consumers if c.name == spec.group + group_suffix), None)
                if carrier is None:
                    raise ValueError(f"consumer {spec.name} names group {spec.group}, which no spec before it runs")
            loop = ConsumerLoop(
                name=spec.name + group_suffix,
                db=self.db,
                tables=tables,
                bootstrap_servers=settings.kafka.bootstrap_servers,
                topics=spec.topics,
                handlers=spec.handlers,
                batch=spec.batch,
                replies_for=settings.service if spec.replies_only else None,
                source=settings.service,
                keys=self.keys,
                max_batch=settings.kafka.max_batch,
                max_attempts=settings.kafka.max_attempts,
                retry_backoff_ms=settings.kafka.retry_backoff_ms,
                session_timeout_ms=settings.kafka.session_timeout_ms,
                fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
                idle_fetch_max_wait_ms=settings.kafka.idle_fetch_max_wait_ms or None,
                idle_after_s=settings.kafka.idle_after_s,
                clock=self.clock,
                tracing=self.tracing,
                doorbell=self.doorbell,
                carrier=carrier,
                gather_s=spec.gather_s,
            )
            loop.working = self.loop_watch.busy
            self.consumers.append(loop)
        # The loops with a group member of their own: each runs the fetch loop of its member.
        self.members = [c for c in self.consumers if c.carrier is None]
        topics = set(self.topics)
        for spec in self.consumer_specs:
            topics.update(spec.topics)
            topics.update(dlq(t) for t in spec.topics)
        self.broker = BrokerWatch(
            settings.kafka.bootstrap_servers,
            client_id=settings.service,
            topics=topics,
            on_new_broker=self._recover_lost_broker,
            interval_s=settings.kafka.watch_interval_s,
            answered=self._broker_answered,
        )
        for consumer in self.consumers:
            consumer.broker_ready = self._broker_ready
        self._tasks: list[asyncio.Task[None]] = []
        # Tasks that code running in the process started and handed over (`own`).
        self._owned: set[asyncio.Task[Any]] = set()
        self._closers: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        self.stop_step_s = STOP_STEP_S
        # Set by `serve` (a process of its own, not an app inside a test run): exit even if
        # a task left behind by `stop` would hold asyncio's final cancellation forever.
        self.exit_when_stuck = False
        self.started = False
        self.metrics = Metrics(self)

    def _broker_ready(self) -> bool:
        return self.broker.ready

    def _broker_answered(self) -> float:
        """When (time.monotonic) a group member's connection last had an answer from the
        broker: its heartbeats bring one every second, so the broker watch need not ask
        (aiokafka's connections note it for their idle timeout; a version that stopped noting
        it leaves the watch looking every `steady_s`, as it did before it trusted them)."""
        latest = -math.inf
        for consumer in self.members:
            client = getattr(consumer.consumer, "_client", None)
            for conn in getattr(client, "_conns", {}).values():
                latest = max(latest, getattr(conn, "_last_action", -math.inf))
        return latest

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.tables, source=self.service, clock=self.clock)

    def own(self, work: Coroutine[Any, Any, Any] | asyncio.Task[Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Start `work` as a task the runtime owns (or adopt a started task). `stop` gives
        owned tasks one step's deadline to finish, then cancels them; a task that fails is
        logged with its traceback rather than lost."""
        task = work if isinstance(work, asyncio.Task) else asyncio.create_task(work, name=name)
        self._owned.add(task)
        task.add_done_callback(self._disown)
        return task

    def _disown(self, task: asyncio.Task[Any]) -> None:
        self._owned.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("task %s failed", task.get_name(), exc_info=exc)

    def on_stop(self, name: str, closer: Callable[[], Awaitable[object]]) -> None:
        """Run `closer` when the runtime stops: after the owned tasks, before the consumers,
        the producer and the database close; bounded like every other step. Closers run in
        the reverse order of registration."""
        self._closers.append((name, closer))

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # What did start (a consumer's group membership, the producer) must not outlive
            # a failed start-up.
            await self.stop()
            raise

    async def _start(self) -> None:
        # The database (migrations, the clock, the seed) and Kafka (topics, the producer,
        # the consumer groups' joins, which the broker holds for half the session timeout)
        # get ready side by side: start-up is what a test suite waits for. Each one's time
        # goes into the "started" line.
        began = time.perf_counter()
        took: dict[str, float] = {}

        async def timed(name: str, work: Awaitable[None]) -> None:
            mark = time.perf_counter()
            await work
            took[name] = time.perf_counter() - mark

        async def database() -> None:
            await timed("database", self._start_database())
            if self.on_start is not None:
                await timed("seed", self.on_start(self))

        try:
            async with asyncio.TaskGroup() as ready:
                ready.create_task(database())
                ready.create_task(timed("kafka", self._start_kafka()))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # what went wrong first, not the group around it
        self._loop("broker-watch", self.broker.run)
        self._loop("outbox-relay", self.relay.run)
        self._loop("loop-watch", self.loop_watch.run)
        self._loop("wal-checkpoint", every(1.0, "wal checkpoint", self.db.checkpoint))
        for consumer in self.members:
            self._loop(consumer.name, consumer.run)
        for loop in self.background:
            self._loop(getattr(loop, "__name__", "task"), loop)
        self.started = True
        _tune_gc()
        log.info(
            "%s started in %.0f ms (%s)",
            self.service,
            (time.perf_counter() - began) * 1000,
            ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in took.items()),
        )

    async def _start_database(self) -> None:
        await migrate(self.db, self.migrations)
        await self._load_clock()

    async def _start_kafka(self) -> None:
        await ensure_topics(
            self.settings.kafka.bootstrap_servers, self.broker.topics, partitions=self.settings.kafka.partitions
        )
        await self.broker.check()  # the broker this process starts on
        if self.doorbell is not None:
            await self.doorbell.open()
        await self.producer.start()
        await asyncio.gather(*(consumer.start() for consumer in self.consumers))

    async def stop(self) -> None:
        """Stop everything, each step within `stop_step_s`: a step that overruns is
        cancelled, logged and left behind, so a process always gets to exit."""
        self.started = False
        step = self.stop_step_s
        stuck: list[str] = []
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        stuck += await _settle(tasks, "background loops", step)
        stuck += await _settle(list(self._owned), "owned tasks", step, cancel_after=True)
        self.metrics.close()
        for name, closer in reversed(self._closers):
            stuck += await _bounded(_call(closer), name, step)
        # Each step on its own: a broker already gone must not keep the database open.
        for consumer in self.consumers:
            stuck += await _bounded(consumer.stop(), f"stopping consumer {consumer.name}", step)
        if self.producer.started:
            # One last drain so a clean shutdown leaves nothing unpublished.
            stuck += await _bounded(self.relay.drain_once(), "draining the outbox", step)
        stuck += await _bounded(self.producer.stop(), "stopping the producer", step)
        if self.doorbell is not None:
            self.doorbell.close()
        stuck += await _bounded(self.db.dispose(), "closing the database", step)
        # Spans still queued for the OTLP exporter go out (bounded by its own timeout).
        stuck += await _bounded(asyncio.to_thread(self.tracing.flush), "flushing traces", step)
        if stuck and self.exit_when_stuck:
            _exit_after(step, stuck)

    async def _load_clock(self) -> None:
        """Back on the sandbox clock the process was on before it stopped."""
        table = self.tables.sandbox_clock
        async with self.db.read() as session:
            offset = await session.scalar(select(table.c.offset_s).where(table.c.id == 1))
        if offset:
            self.clock.offset = timedelta(seconds=float(offset))
            log.info("sandbox clock %.0fs ahead of real time, as it was", float(offset))

    async def set_clock_offset(self, offset: timedelta) -> None:
        """Move the sandbox clock, and keep where it stands for the next start."""
        table = self.tables.sandbox_clock
        row = {"offset_s": offset.total_seconds(), "updated_at": utcnow()}
        # One upsert: replicas sharing the table are told at the same moment, and a delete
        # then an insert in each would collide on the row's id.
        upsert = (sqlite_insert if self.db.sqlite else pg_insert)(table).values(id=1, **row)
        async with self.db.write() as session, session.begin():
            await session.execute(upsert.on_conflict_do_update(index_elements=[table.c.id], set_=row))
        self.clock.offset = offset

    async def reset(self) -> None:
        """Back to the seed state: empty every table of this service, set the sandbox clock
        back to real time, then seed again. What a consumer gathered and has not applied
        (shared.kafka.consumer: `gather_s`) is forgotten with the rest."""
        self.clock.offset = timedelta(0)
        for member in self.members:
            member.drop_gathered(done=True)
        async with self.db.write() as session, session.begin():
            for table in reversed(self.metadata.sorted_tables):
                await session.execute(table.delete())
        for hook in self.on_reset:
            await hook()
        if self.on_start is not None:
            await self.on_start(self)

    async def _recover_lost_broker(self, what: str) -> None:
        """The broker came back without what it held (ADR 0013): its topics again, every
        outbox row still retained sent again, and every consumer reading from the start
        (their inboxes drop what they applied already)."""
        await ensure_topics(
            self.settings.kafka.bootstrap_servers, self.broker.topics, partitions=self.settings.kafka.partitions
        )
        again = await self.relay.republish()
        for consumer in self.members:
            consumer.rewind()
        log.warning(
            "%s: topics recreated, %d outbox rows of the last %.0fs sent again, %d consumers read from the start",
            what,
            again,
            self.relay.retention_s,
            len(self.consumers),
        )

    def _loop(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._supervise(name, run), name=name))

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        delay = SUPERVISE_BACKOFF_S[0]
        while True:
            began = time.monotonic()
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if time.monotonic() - began >= SUPERVISE_CALM_S:
                    delay = SUPERVISE_BACKOFF_S[0]  # it ran well for a while: a new failure, not the same one
                log.exception("%s crashed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, SUPERVISE_BACKOFF_S[1])

    async def readiness(self) -> dict[str, Any]:
        checks = {
            "database": await self.db.ping(),
            "broker": self.broker.ready,
            "kafka_producer": self.producer.started,
            "outbox_relay": self.relay.healthy,
            "consumers": all(c.ready for c in self.consumers),
            "started": self.started,
        }
        return checks


async def _settle(
    tasks: list[asyncio.Task[Any]], what: str, deadline_s: float, *, cancel_after: bool = False
) -> list[str]:
    """Wait up to `deadline_s` for `tasks` to end (cancelling what is left, if asked);
    the names of those that would not."""
    if not tasks:
        return []
    _, pending = await asyncio.wait(tasks, timeout=deadline_s)
    if pending and cancel_after:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
    names = sorted(t.get_name() for t in pending)
    if names:
        log.error("%s still running %.1fs into shutdown, left behind: %s", what, deadline_s, ", ".join(names))
    return names


async def _call(closer: Callable[[], Awaitable[object]]) -> None:
    await closer()


async def _bounded(step: Awaitable[Any], what: str, deadline_s: float) -> list[str]:
    """One shutdown step, at most `deadline_s`: unlike `asyncio.wait_for`, which waits for
    the cancelled step to finish, a step that ignores its cancellation is left behind
    (and named in the answer)."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=deadline_s)
    if not done:
        log.warning("%s overran its %.1fs deadline during shutdown; cancelling it", what, deadline_s)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
        if not done:
            log.error("%s ignored its cancellation; left behind", what)
            return [what]
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("%s failed during shutdown: %r", what, exc)
    return []


def _exit_after(delay_s: float, stuck: list[str]) -> None:
    """The last resort of a process whose shutdown left work behind: asyncio cancels every
    task once the server returns and waits for each, so one that ignores cancellation
    would keep the process alive forever."""

    def exit_now() -> None:
        log.error("exiting: %s still running %.1fs after shutdown", ", ".join(stuck), delay_s)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(1)

    timer = threading.Timer(delay_s, exit_now)
    timer.daemon = True
    timer.start()


def _ignore(_value: float) -> None:
    return None


def _tune_gc() -> None:
    """Fewer, cheaper garbage collections once a process is up: what start-up loaded
    (modules, tables, routes) is frozen out of the collector's scans, and the young
    generation is collected less often. A request or a consumer batch allocates many
    short-lived objects; with the defaults a full collection over everything now and
    then showed up as tail latency on the payment path."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
