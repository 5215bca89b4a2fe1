"""What every Sandbank process shares: the runtime (database, producer, outbox relay,
consumers) with its lifespan, and the FastAPI app around it with problem+json
errors, request ids, body limits, /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import MetaData

from shared.auth import ROLE_OPERATOR, ROLE_SERVICE, CurrentPrincipal, Principal, TokenIssuer
from shared.clock import Clock
from shared.db import Database
from shared.events.topics import dlq
from shared.kafka.consumer import BatchFactory, ConsumerLoop, Handler
from shared.kafka.faults import Faults
from shared.kafka.messaging import MessagingTables, UnitOfWork
from shared.kafka.producer import Producer, ensure_topics
from shared.kafka.relay import OutboxRelay
from shared.observability import BodySizeLimitMiddleware, RequestContextMiddleware
from shared.problems import Problem, install_problem_handlers
from shared.settings import Settings

log = logging.getLogger(__name__)
VERSION = "0.1.0"


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
        group_suffix: str = "",
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
            schema=settings.db.schema_name,
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
                name=spec.name + group_suffix,
                db=self.db,
                tables=tables,
                bootstrap_servers=settings.kafka.bootstrap_servers,
                topics=spec.topics,
                handlers=spec.handlers,
                batch=spec.batch,
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

    async def metrics(self) -> str:
        lines = [
            f'sandbank_outbox_published_total{{service="{self.service}"}} {self.relay.published}',
            f'sandbank_outbox_backlog{{service="{self.service}"}} {await self.relay.backlog()}',
            f'sandbank_event_loop_lag_max_seconds{{service="{self.service}"}} {self.loop_watch.take_worst():.4f}',
            f'sandbank_event_loop_stalls_total{{service="{self.service}"}} {self.loop_watch.stalls}',
        ]
        for c in self.consumers:
            labels = f'service="{self.service}",consumer="{c.name}"'
            lines += [
                f"sandbank_consumer_applied_total{{{labels}}} {c.applied}",
                f"sandbank_consumer_duplicates_total{{{labels}}} {c.duplicates}",
                f"sandbank_consumer_dead_lettered_total{{{labels}}} {c.dead_lettered}",
                f"sandbank_consumer_lag{{{labels}}} {await c.lag()}",
            ]
        return "\n".join(lines) + "\n"


class ClockState(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"offset_s": 86400.0, "now": "2025-06-03T09:30:00.123456+00:00"}]}
    )

    offset_s: float = Field(description="Seconds the sandbox clock runs ahead of real time", ge=0, le=10 * 365 * 86400)
    now: str | None = None


async def _quietly(step: Awaitable[Any], what: str) -> None:
    try:
        await step
    except (Exception, asyncio.CancelledError) as exc:
        log.warning("%s failed during shutdown: %r", what, exc)


def clock_router(runtime: Runtime) -> APIRouter:
    """The process's sandbox clock, set by the gateway's POST /v1/sandbox/clock."""
    router = APIRouter(tags=["internal"])

    @router.get("/internal/clock", response_model=ClockState, summary="The sandbox clock")
    async def get_clock() -> ClockState:
        return ClockState(offset_s=runtime.clock.offset.total_seconds(), now=runtime.clock.now().isoformat())

    @router.put("/internal/clock", response_model=ClockState, summary="Set the sandbox clock's offset")
    async def put_clock(body: ClockState, principal: CurrentPrincipal) -> ClockState:
        if not (principal.has(ROLE_SERVICE) or principal.has(ROLE_OPERATOR)):
            raise Problem(403, "forbidden", "only operators and services set the clock")
        if not runtime.settings.sandbox:
            raise Problem(404, "not-found", "the sandbox clock is fixed outside sandbox mode")
        runtime.clock.offset = timedelta(seconds=body.offset_s)
        return ClockState(offset_s=body.offset_s, now=runtime.clock.now().isoformat())

    return router


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "duplicate", "duration_s": 30}]})
    mode: Literal["delay", "drop", "duplicate", "none"]
    duration_s: float = Field(default=30, gt=0, le=3600)
    delay_ms: int = Field(default=500, ge=0, le=60_000)
    probability: float = Field(default=1.0, gt=0, le=1)


FAULT_STATE_EXAMPLE = {
    "service": "accounts",
    "mode": "duplicate",
    "remaining_s": 29.5,
    "delay_ms": 500,
    "probability": 1.0,
    "dropped": 0,
    "duplicated": 3,
}


class FaultState(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FAULT_STATE_EXAMPLE]})

    service: str
    mode: str
    remaining_s: float
    delay_ms: int = 0
    probability: float = 1.0
    dropped: int
    duplicated: int


def sandbox_router(runtime: Runtime) -> APIRouter:
    """Sandbox controls every process obeys: faults on its outgoing messages, reset.
    Called by the gateway's /v1/sandbox endpoints with a service token."""
    router = APIRouter(tags=["internal"])

    def allowed(principal: Principal) -> None:
        if not (principal.has(ROLE_SERVICE) or principal.has(ROLE_OPERATOR)):
            raise Problem(403, "forbidden", "only operators and services use sandbox controls")
        if not runtime.settings.sandbox:
            raise Problem(404, "not-found", "sandbox controls are off outside sandbox mode")

    def state() -> FaultState:
        fault = runtime.faults.current()
        return FaultState(
            service=runtime.service,
            mode=fault.mode if fault else "none",
            remaining_s=round(max(0.0, fault.until - time.monotonic()), 1) if fault else 0.0,
            delay_ms=fault.delay_ms if fault else 0,
            probability=fault.probability if fault else 1.0,
            dropped=runtime.faults.dropped,
            duplicated=runtime.faults.duplicated,
        )

    @router.get("/internal/faults", response_model=FaultState, summary="The fault on outgoing messages, if any")
    async def get_faults(principal: CurrentPrincipal) -> FaultState:
        allowed(principal)
        return state()

    @router.put("/internal/faults", response_model=FaultState, summary="Delay, drop or duplicate outgoing messages")
    async def put_faults(body: FaultSpec, principal: CurrentPrincipal) -> FaultState:
        allowed(principal)
        if body.mode == "none":
            runtime.faults.clear()
        else:
            runtime.faults.set(body.mode, body.duration_s, delay_ms=body.delay_ms, probability=body.probability)
        return state()

    @router.post("/internal/reset", status_code=204, summary="Back to the seed state")
    async def reset(principal: CurrentPrincipal) -> Response:
        allowed(principal)
        await runtime.reset()
        return Response(status_code=204)

    return router


DEAD_LETTER_EXAMPLE = {
    "id": 7,
    "consumer": "payments",
    "topic": "accounts.events",
    "message_id": "0f4e2b7c-9a1d-4c6e-8b3f-5d2a7e1c9b40",
    "key": "5a0e1d3c-0000-4000-8000-000000000101",
    "error": "KeyError: 'hold_id'",
    "created_at": "2025-06-02T09:31:12Z",
    "replayed_at": None,
}


class DeadLetter(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTER_EXAMPLE]})

    id: int
    consumer: str
    topic: str
    message_id: str | None
    key: str | None
    error: str = Field(description="The last line of the error; the full traceback is in the service log")
    created_at: datetime
    replayed_at: datetime | None = None


DEAD_LETTER_LIST_EXAMPLE = {"service": "payments", "items": [DEAD_LETTER_EXAMPLE]}


class DeadLetterList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTER_LIST_EXAMPLE]})

    service: str
    items: list[DeadLetter]


def dead_letter_router(runtime: Runtime) -> APIRouter:
    """Poison messages this service's consumers gave up on: list them, replay one."""
    router = APIRouter(tags=["internal"])
    table = runtime.tables.dead_letter

    def allowed(principal: Principal) -> None:
        if not (principal.has(ROLE_SERVICE) or principal.has(ROLE_OPERATOR)):
            raise Problem(403, "forbidden", "only operators and services see dead letters")

    def public(row: Any) -> DeadLetter:
        lines = [line for line in (row.error or "").splitlines() if line.strip()]
        return DeadLetter(
            id=row.id,
            consumer=row.consumer,
            topic=row.topic,
            message_id=row.message_id,
            key=row.key,
            error=lines[-1] if lines else "",
            created_at=row.created_at,
            replayed_at=row.replayed_at,
        )

    @router.get("/internal/dead-letters", response_model=DeadLetterList, summary="Messages sent to a .dlq")
    async def list_dead_letters(principal: CurrentPrincipal, limit: int = 100) -> DeadLetterList:
        allowed(principal)
        async with runtime.db.read() as session:
            rows = (await session.execute(table.select().order_by(table.c.id.desc()).limit(min(limit, 500)))).all()
        return DeadLetterList(service=runtime.service, items=[public(r) for r in rows])

    @router.post("/internal/dead-letters/{letter_id}/replay", response_model=DeadLetter, summary="Replay one")
    async def replay(letter_id: int, principal: CurrentPrincipal) -> DeadLetter:
        """Publish the message again on its original topic (after the fix that makes it
        applicable); its inbox record is dropped so the consumer applies it this time."""
        allowed(principal)
        async with runtime.unit_of_work() as uow:
            row = (await uow.session.execute(table.select().where(table.c.id == letter_id))).first()
            if row is None:
                raise Problem(404, "not-found", f"dead letter {letter_id} was not found")
            if row.message_id:
                inbox = runtime.tables.inbox
                await uow.session.execute(
                    inbox.delete().where(inbox.c.consumer == row.consumer, inbox.c.message_id == row.message_id)
                )
            uow.publish_raw(row.topic, row.key, row.payload, [["replayed-from-dlq", str(letter_id)]])
            now = runtime.clock.now()
            await uow.session.execute(table.update().where(table.c.id == letter_id).values(replayed_at=now))
        return public(row).model_copy(update={"replayed_at": now})

    return router


HEALTHZ_EXAMPLE: dict[str, Any] = {
    "content": {"application/json": {"example": {"status": "ok", "service": "gateway", "version": VERSION}}}
}
_CHECKS = {"database": True, "kafka_producer": True, "outbox_relay": True, "consumers": True, "started": True}
READYZ_EXAMPLE: dict[str, Any] = {
    "content": {"application/json": {"example": {"status": "ready", "service": "gateway", "checks": _CHECKS}}}
}
NOT_READY_EXAMPLE: dict[str, Any] = {
    "description": "Not ready: a check failed",
    "content": {
        "application/json": {
            "example": {"status": "not-ready", "service": "gateway", "checks": {**_CHECKS, "kafka_producer": False}}
        }
    },
}
METRICS_EXAMPLE: dict[str, Any] = {
    "content": {
        "text/plain": {
            "example": 'sandbank_outbox_published_total{service="gateway"} 1289\n'
            'sandbank_outbox_backlog{service="gateway"} 0\n'
        }
    }
}


def health_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process is up", responses={200: HEALTHZ_EXAMPLE})
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.service, "version": VERSION}

    @router.get(
        "/readyz",
        summary="Readiness: database, Kafka and background loops are up",
        responses={200: READYZ_EXAMPLE, 503: NOT_READY_EXAMPLE},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "service": runtime.service, "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get(
        "/metrics", summary="Prometheus metrics", response_class=PlainTextResponse, responses={200: METRICS_EXAMPLE}
    )
    async def metrics() -> str:
        return await runtime.metrics()

    return router


def build_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    extra_lifespan: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            if extra_lifespan is not None:
                async with extra_lifespan(app):
                    yield
            else:
                yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version=VERSION, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.tokens = runtime.tokens
    app.state.settings = runtime.settings
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=runtime.settings.http.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router(runtime))
    app.include_router(clock_router(runtime))
    app.include_router(sandbox_router(runtime))
    app.include_router(dead_letter_router(runtime))
    for router in routers:
        app.include_router(router)
    return app


def _tune_gc() -> None:
    """Fewer, cheaper garbage collections once a process is up: what start-up loaded
    (modules, tables, routes) is frozen out of the collector's scans, and the young
    generation is collected less often. A request or a consumer batch allocates many
    short-lived objects; with the defaults a full collection over everything now and
    then showed up as tail latency on the payment path."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def serve(app_factory: Callable[[Settings], FastAPI], settings: Settings) -> None:
    """Run one service under uvicorn (uvloop, httptools) on its configured port."""
    import uvicorn

    from shared.observability import configure_logging

    configure_logging(settings.service, settings.log_level, settings.log_json)
    uvicorn.run(
        app_factory(settings),
        host=settings.http.host,
        port=settings.http.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        # Longer than the pooled clients' keep-alive (httpx: 5 s), so a client never reuses
        # a connection the server is closing at that very moment.
        timeout_keep_alive=65,
    )
