"""A process's Prometheus metrics (prometheus_client), for GET /metrics.

Each runtime has a registry of its own (`Metrics`): request latency per route, consumer
batch sizes and event-loop lateness as histograms, observed as they happen; and the
counters and gauges its runtime keeps (outbox, broker, consumers), read at each scrape
(`RuntimeCollector`). The saga primitive records into `shared.saga.observe.SAGAS`, the
one registry of the Python process: it has no runtime at hand. The README lists every name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from shared.aio import within
from shared.events.envelope import utcnow
from shared.saga.observe import SAGAS

if TYPE_CHECKING:
    from shared.kafka.consumer import ConsumerLoop
    from shared.runtime import Runtime

# No `_created` series beside each counter and histogram: they double /metrics for a
# start time Prometheus does not need.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from a cached read (1 ms) to a request that waits on a slow service.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
LOOP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
# Paths outside the latency histogram: probes and scrapes say nothing about the bank.
UNMEASURED = frozenset({"/healthz", "/readyz", "/metrics"})
# How long a scrape waits for the consumers' lag to be read from the broker. Past it the
# scrape shows the last figures read, marked stale, and the reading goes on behind it for
# the next scrape: a broker that does not answer (aiokafka waits 40 s for end offsets, and
# for a committed offset as long as its group has no coordinator) never holds /metrics.
LAG_WAIT_S = 2.0
# A reading still unanswered after this long is given up; the next scrape starts another.
LAG_READ_TIMEOUT_S = 10.0


class Metrics:
    """The registry of one runtime, and the histograms its parts observe into."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry()
        service = runtime.service
        self.http = Histogram(
            "sandbank_http_request_duration_seconds",
            "HTTP requests served, by route template, method and status class",
            ["service", "route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        batches = Histogram(
            "sandbank_consumer_batch_size",
            "Messages per batch a consumer took from the broker",
            ["service", "consumer"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        for consumer in runtime.consumers:
            consumer.observe_batch = batches.labels(service, consumer.name).observe
        loop = Histogram(
            "sandbank_event_loop_lag_seconds",
            "How late the event loop ran the loop watch's timer (50 ms apart while the process works, 1 s idle)",
            ["service"],
            buckets=LOOP_BUCKETS,
            registry=self.registry,
        )
        runtime.loop_watch.observe = loop.labels(service).observe
        self.collector = RuntimeCollector(runtime)
        self.registry.register(self.collector)
        self.registry.register(WithService(SAGAS, service))

    def request_started(self) -> None:
        self.runtime.loop_watch.busy()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http.labels(self.runtime.service, route, method, f"{status // 100}xx").observe(seconds)

    async def render(self) -> bytes:
        """The exposition text: what the runtime's async sources say now, then every metric."""
        await self.collector.refresh()
        return generate_latest(self.registry)

    def close(self) -> None:
        """Give up the lag readings still waiting on the broker (the runtime stops)."""
        self.collector.close()


class WithService(Collector):
    """The metrics of a registry of the Python process (a process runs one service), with
    the `service` label every series of /metrics has."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.source = registry
        self.service = service

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(
                    sample.name, {"service": self.service, **sample.labels}, sample.value, sample.timestamp
                )
            yield labelled


class LagReader:
    """One consumer's lag as last read from the broker, and the reading in flight.

    A scrape starts a reading unless one is in flight, waits for it up to its bound and
    shows the last figures that came back: `stale` when none came back during that scrape
    (the reading failed, or is still waiting on the broker), with their age."""

    def __init__(self, consumer: ConsumerLoop, timeout_s: float = LAG_READ_TIMEOUT_S) -> None:
        self.consumer = consumer
        self.timeout_s = timeout_s
        # Per (topic, partition), messages behind; None until a reading first came back.
        self.partitions: dict[tuple[str, int], int] | None = None
        self.read_at: float | None = None  # time.monotonic() of that reading
        self.stale = True
        self.task: asyncio.Task[dict[tuple[str, int], int]] | None = None

    def start(self) -> asyncio.Task[dict[tuple[str, int], int]]:
        if self.task is None:
            self.task = asyncio.create_task(
                within(self.consumer.partition_lag(), self.timeout_s), name=f"lag of {self.consumer.name}"
            )
        return self.task

    def settle(self) -> None:
        """Take what a finished reading found; a reading still in flight stays for the next."""
        task = self.task
        if task is None or not task.done():
            self.stale = True
            return
        self.task = None
        if task.cancelled() or task.exception() is not None:  # failed, or no answer in timeout_s
            self.stale = True
            return
        self.partitions, self.read_at, self.stale = task.result(), time.monotonic(), False

    @property
    def age_s(self) -> float:
        """Seconds since the figures shown were read (-1 before any came back)."""
        return -1.0 if self.read_at is None else time.monotonic() - self.read_at


class RuntimeCollector(Collector):
    """The runtime's own counters and gauges, read at each scrape. What needs the database
    or the broker (outbox depth, consumer lag) is read first by `refresh`: a collector's
    `collect` cannot await. The lag waits for the broker `lag_wait_s` at most (`LagReader`)."""

    def __init__(self, runtime: Runtime, *, lag_wait_s: float = LAG_WAIT_S) -> None:
        self.runtime = runtime
        self.backlog = 0
        self.oldest_s = 0.0
        self.lag_wait_s = lag_wait_s
        # Per consumer, its lag reading and the last figures read.
        self.readers = {c.name: LagReader(c) for c in runtime.consumers}

    async def refresh(self) -> None:
        runtime = self.runtime
        outbox = runtime.tables.outbox
        async with runtime.db.read() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
                )
            ).one()
        self.backlog = int(row[0] or 0)
        oldest = row[1]
        self.oldest_s = max(0.0, (utcnow() - oldest).total_seconds()) if isinstance(oldest, datetime) else 0.0
        await self.read_lag()

    @property
    def lag(self) -> dict[str, dict[tuple[str, int], int]]:
        """Per consumer, the last lag figures read (a consumer never read yet is left out)."""
        return {name: r.partitions for name, r in self.readers.items() if r.partitions is not None}

    async def read_lag(self) -> None:
        """Each consumer's lag read afresh, or, where the broker does not answer within
        `lag_wait_s`, the last figures read, marked stale."""
        readers = list(self.readers.values())
        for reader in readers:
            reader.settle()  # a reading that came back after the last scrape gave up on it
        readings = [reader.start() for reader in readers]
        if readings:
            await asyncio.wait(readings, timeout=self.lag_wait_s)
        for reader in readers:
            reader.settle()

    def close(self) -> None:
        for reader in self.readers.values():
            if reader.task is not None:
                reader.task.cancel()
                reader.task = None

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        service = runtime.service
        yield _counter("sandbank_outbox_published", "Outbox rows the relay sent", service, runtime.relay.published)
        yield _gauge("sandbank_outbox_backlog", "Outbox rows not yet sent", service, self.backlog)
        yield _gauge(
            "sandbank_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest outbox row not yet sent (0 when none waits)",
            service,
            self.oldest_s,
        )
        # Rows sent again to a broker that came back empty (ADR 0013).
        yield _counter(
            "sandbank_outbox_republished",
            "Outbox rows sent again to a broker that came back empty",
            service,
            runtime.relay.republished,
        )
        yield _gauge("sandbank_broker_connected", "1 while the broker answers", service, int(runtime.broker.connected))
        yield _counter("sandbank_broker_lost", "Times the broker came back empty", service, runtime.broker.new_brokers)
        yield _counter(
            "sandbank_producer_renewals",
            "Kafka producer clients replaced because their sender task had ended",
            service,
            runtime.producer.renewals,
        )
        yield _gauge(
            "sandbank_event_loop_lag_max_seconds",
            "The event loop's worst lateness since the last scrape",
            service,
            runtime.loop_watch.take_worst(),
        )
        yield _counter(
            "sandbank_event_loop_stalls",
            "Times the event loop ran 100 ms late or more",
            service,
            runtime.loop_watch.stalls,
        )
        labels = ["service", "consumer"]
        applied = CounterMetricFamily("sandbank_consumer_applied", "Messages applied", labels=labels)
        duplicates = CounterMetricFamily(
            "sandbank_consumer_duplicates", "Messages skipped as the inbox had applied them already", labels=labels
        )
        dead = CounterMetricFamily("sandbank_consumer_dead_lettered", "Messages sent to a .dlq", labels=labels)
        untrusted = CounterMetricFamily(
            "sandbank_consumer_untrusted", "Of the dead letters, those refused for their sender", labels=labels
        )
        rewinds = CounterMetricFamily(
            "sandbank_consumer_rewinds", "Reads from the start on a new broker", labels=labels
        )
        renewals = CounterMetricFamily(
            "sandbank_consumer_renewals",
            "Kafka clients closed and opened again: their offset commits kept failing, or a fetch raised or "
            "did not return, with the broker there",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "sandbank_consumer_lag", "Messages behind the end offsets, all partitions", labels=labels
        )
        partition_lag = GaugeMetricFamily(
            "sandbank_consumer_partition_lag",
            "Messages between the group's committed offset and the end offset of a partition",
            labels=["service", "consumer", "topic", "partition"],
        )
        stale = GaugeMetricFamily(
            "sandbank_consumer_lag_stale",
            "1 when this scrape could not read the consumer's lag from the broker in time: the lag "
            "figures shown are the last read (none before a first reading)",
            labels=labels,
        )
        age = GaugeMetricFamily(
            "sandbank_consumer_lag_age_seconds",
            "Seconds since the lag figures shown were read from the broker (-1: never)",
            labels=labels,
        )
        by_topic = CounterMetricFamily(
            "sandbank_dead_letters", "Dead letters by the topic they came from", labels=["service", "consumer", "topic"]
        )
        for c in runtime.consumers:
            values = [service, c.name]
            applied.add_metric(values, c.applied)
            duplicates.add_metric(values, c.duplicates)
            dead.add_metric(values, c.dead_lettered)
            untrusted.add_metric(values, c.untrusted)
            rewinds.add_metric(values, c.rewinds)
            renewals.add_metric(values, c.renewals)
            reader = self.readers.get(c.name)
            if reader is not None:
                stale.add_metric(values, int(reader.stale))
                age.add_metric(values, round(reader.age_s, 3))
            partitions = reader.partitions if reader is not None else None
            if partitions is not None:  # none until a first reading came back
                lag.add_metric(values, sum(partitions.values()))
                for (topic, partition), behind in sorted(partitions.items()):
                    partition_lag.add_metric([*values, topic, str(partition)], behind)
            for topic, count in sorted(c.dead_letters_by_topic.items()):
                by_topic.add_metric([*values, topic], count)
        yield from (applied, duplicates, dead, untrusted, rewinds, renewals, lag, partition_lag, stale, age, by_topic)


def _counter(name: str, documentation: str, service: str, value: float) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=["service"])
    family.add_metric([service], value)
    return family


def _gauge(name: str, documentation: str, service: str, value: float) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=["service"])
    family.add_metric([service], value)
    return family
