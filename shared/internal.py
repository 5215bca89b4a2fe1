"""The /internal routes every process serves to the gateway and operators: the sandbox
clock, sandbox controls (faults on outgoing messages, reset), dead letters and the sagas
past their deadline; and the rule for every /internal route of a process
(`internal_caller`)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.types import Scope

from shared import audit
from shared.auth import ROLE_METRICS, ROLE_OPERATOR, ROLE_SERVICE, Principal, current_principal
from shared.kafka import signing
from shared.pagination import MAX_SEQ, Page, paging
from shared.problems import Problem
from shared.runtime import Runtime
from shared.saga.store import SagaTable, sagas_holding, stuck_sagas
from shared.schemas.sagas import HeldSagas, HoldIds, StuckSagas

INTERNAL_PREFIX = "/internal/"
REPLAYED_HEADER = "replayed-from-dlq"


async def operator_or_service(request: Request) -> Principal:
    """A verified operator or service (the gateway, another service): who may call the
    /internal routes and read /metrics; and, for /metrics alone, a scraper's metrics-only
    token, so that Prometheus holds no credential that could reset the bank."""
    principal = await current_principal(request)
    if principal.has(ROLE_SERVICE) or principal.has(ROLE_OPERATOR):
        return principal
    if principal.has(ROLE_METRICS) and route_path(request.scope) == "/metrics":
        return principal
    raise Problem(403, "forbidden", "only operators and services call this route")


async def internal_caller(request: Request) -> None:
    """The rule of every /internal route: a verified service or operator calls it.
    `build_app` puts it on each router that has one."""
    if route_path(request.scope).startswith(INTERNAL_PREFIX):
        await operator_or_service(request)


def route_path(scope: Scope) -> str:
    """The path the app routes on. Behind a proxy that mounts the app under a prefix (the
    ASGI `root_path`), the server leaves that prefix at the front of `path`: a rule that
    read `path` alone would miss /api/internal/clock, which the router still matches."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


class ClockState(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"offset_s": 86400.0, "now": "2025-06-03T09:30:00.123456+00:00"}]}
    )

    offset_s: float = Field(description="Seconds the sandbox clock runs ahead of real time", ge=0, le=10 * 365 * 86400)
    now: str | None = None


def clock_router(runtime: Runtime) -> APIRouter:
    """The process's sandbox clock, set by the gateway's POST /v1/sandbox/clock."""
    router = APIRouter(tags=["internal"])

    @router.get("/internal/clock", response_model=ClockState, summary="The sandbox clock")
    async def get_clock() -> ClockState:
        return ClockState(offset_s=runtime.clock.offset.total_seconds(), now=runtime.clock.now().isoformat())

    @router.put("/internal/clock", response_model=ClockState, summary="Set the sandbox clock's offset")
    async def put_clock(body: ClockState) -> ClockState:
        if not runtime.settings.sandbox:
            raise Problem(404, "not-found", "the sandbox clock is fixed outside sandbox mode")
        await runtime.set_clock_offset(timedelta(seconds=body.offset_s))
        return ClockState(offset_s=body.offset_s, now=runtime.clock.now().isoformat())

    return router


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "duplicate", "duration_s": 30}]})
    mode: Literal["delay", "drop", "duplicate", "none"]
    duration_s: float = Field(default=30, gt=0, le=3600)
    delay_ms: int = Field(default=500, ge=0, le=60_000)
    probability: float = Field(default=1.0, gt=0, le=1)


FAULT_STATE_EXAMPLE: dict[str, Any] = {
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

    def allowed() -> None:
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
    async def get_faults() -> FaultState:
        allowed()
        return state()

    @router.put("/internal/faults", response_model=FaultState, summary="Delay, drop or duplicate outgoing messages")
    async def put_faults(body: FaultSpec) -> FaultState:
        allowed()
        if body.mode == "none":
            runtime.faults.clear()
        else:
            runtime.faults.set(body.mode, body.duration_s, delay_ms=body.delay_ms, probability=body.probability)
        return state()

    @router.post("/internal/reset", status_code=204, summary="Back to the seed state")
    async def reset() -> Response:
        allowed()
        await runtime.reset()
        return Response(status_code=204)

    return router


DEAD_LETTER_EXAMPLE: dict[str, Any] = {
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


DEAD_LETTER_LIST_EXAMPLE: dict[str, Any] = {"service": "payments", "items": [DEAD_LETTER_EXAMPLE]}


class DeadLetterList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTER_LIST_EXAMPLE]})

    service: str
    items: list[DeadLetter]


def dead_letter_router(runtime: Runtime) -> APIRouter:
    """Poison messages this service's consumers gave up on: list them, replay one."""
    router = APIRouter(tags=["internal"])
    table = runtime.tables.dead_letter

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
    async def list_dead_letters(limit: Annotated[int, Query(ge=1, le=500)] = 100) -> DeadLetterList:
        async with runtime.db.read() as session:
            rows = (await session.execute(table.select().order_by(table.c.id.desc()).limit(limit))).all()
        return DeadLetterList(service=runtime.service, items=[public(r) for r in rows])

    @router.post("/internal/dead-letters/{letter_id}/replay", response_model=DeadLetter, summary="Replay one")
    async def replay(letter_id: Annotated[int, Path(ge=1, le=MAX_SEQ)]) -> DeadLetter:
        """Publish the message again on its original topic (after the fix that makes it
        applicable), with the headers it came with: it is its sender's message, signed by
        its sender, not this service's. Its inbox record is dropped so the consumer applies
        it this time. A dead letter that carries no signature is not replayed: no consumer
        would apply it."""
        async with runtime.unit_of_work() as uow:
            row = (await uow.session.execute(table.select().where(table.c.id == letter_id))).first()
            if row is None:
                raise Problem(404, "not-found", f"dead letter {letter_id} was not found")
            headers = [[k, v] for k, v in row.headers or [] if k != REPLAYED_HEADER]
            if not signing.is_signed(headers):
                raise Problem(
                    409,
                    "unsigned-dead-letter",
                    f"dead letter {letter_id} carries no signature of its sender: replayed, it would be refused",
                )
            if row.message_id:
                inbox = runtime.tables.inbox
                await uow.session.execute(
                    inbox.delete().where(inbox.c.consumer == row.consumer, inbox.c.message_id == row.message_id)
                )
            uow.publish_raw(row.topic, row.key, row.payload, [*headers, [REPLAYED_HEADER, str(letter_id)]])
            now = runtime.clock.now()
            await uow.session.execute(table.update().where(table.c.id == letter_id).values(replayed_at=now))
        return public(row).model_copy(update={"replayed_at": now})

    return router


# A healthy sweeper acts on a saga within its interval (about a second) of its deadline
# and moves the deadline on; a few seconds past it, nothing is acting on it.
STUCK_GRACE_S = 5.0
# A sweeper that re-sends into a lost broker moves the deadline on each time: what gives
# such a saga away is how often its step was sent.
MinAttempts = Annotated[
    int | None,
    Query(ge=2, le=10_000, description="Also list the sagas whose step was sent at least this many times"),
]


IN_FLIGHT = "in_flight"
SAGA_SUMMARY_EXAMPLE: dict[str, Any] = {
    "service": "payments",
    "total": 12,
    "counts": [
        {"kind": "transfer", "status": "completed", "count": 9},
        {"kind": "transfer", "status": "failed", "count": 2},
        {"kind": "transfer", "status": IN_FLIGHT, "count": 1},
    ],
}


class SagaCount(BaseModel):
    kind: str
    status: str = Field(description=f"The saga's outcome, or `{IN_FLIGHT}` while it has none")
    count: int


class SagaSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SAGA_SUMMARY_EXAMPLE]})

    service: str
    total: int
    counts: list[SagaCount] = Field(description="By kind, then status")


async def saga_counts(runtime: Runtime, tables: list[SagaTable]) -> list[SagaCount]:
    """How many sagas of each kind the process's saga tables hold, by outcome."""
    found: dict[tuple[str, str], int] = {}
    async with runtime.db.read() as session:
        for table in tables:
            model = table.model
            rows = await session.execute(
                select(model.kind, model.outcome, func.count()).group_by(model.kind, model.outcome)
            )
            for kind, outcome, count in rows.all():
                key = (kind, outcome or IN_FLIGHT)
                found[key] = found.get(key, 0) + int(count)
    return [SagaCount(kind=k, status=s, count=n) for (k, s), n in sorted(found.items())]


def saga_router(runtime: Runtime) -> APIRouter:
    """The sagas of the tables the process's sweeper watches (none in a process without
    sagas): those past their deadline, and those behind holds accounts keeps."""
    router = APIRouter(tags=["internal"])

    @router.get("/internal/sagas/stuck", response_model=StuckSagas, summary="Sagas past their deadline")
    async def list_stuck(
        grace_s: Annotated[float, Query(ge=0, le=86400, description="Seconds past the deadline that count")] = (
            STUCK_GRACE_S
        ),
        limit: Annotated[int, Query(ge=1, le=500, description="At most this many of each kind")] = 100,
        min_attempts: MinAttempts = None,
    ) -> StuckSagas:
        """Per kind, the sagas whose deadline passed more than `grace_s` ago on the sandbox
        clock (and with `min_attempts`, those whose step was sent that many times), the
        longest overdue first, and how many there are."""
        now = runtime.clock.now()
        kinds = await stuck_sagas(
            runtime.db, runtime.saga_tables, now, timedelta(seconds=grace_s), limit=limit, min_attempts=min_attempts
        )
        return StuckSagas(
            service=runtime.service,
            checked_at=now,
            grace_s=grace_s,
            min_attempts=min_attempts,
            total=sum(k.total for k in kinds),
            kinds=kinds,
        )

    @router.get("/internal/sagas/summary", response_model=SagaSummary, summary="Sagas by kind and outcome")
    async def summary() -> SagaSummary:
        """Every saga the process's tables hold, counted by kind and outcome (`in_flight`
        for those still running)."""
        counts = await saga_counts(runtime, list(runtime.saga_tables))
        return SagaSummary(service=runtime.service, total=sum(c.count for c in counts), counts=counts)

    @router.post("/internal/sagas/holds", response_model=HeldSagas, summary="The sagas behind these holds")
    async def behind_holds(body: HoldIds) -> HeldSagas:
        """The sagas of this process whose holds at accounts are named (for the ledger
        check); a hold without a saga here is left out of the answer."""
        now = runtime.clock.now()
        items = await sagas_holding(runtime.db, runtime.saga_tables, body.hold_ids, now)
        return HeldSagas(service=runtime.service, checked_at=now, items=items)

    return router


SPAN_EXAMPLE: dict[str, Any] = {
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span_id": "00f067aa0ba902b7",
    "parent_span_id": "53995c3f42cd8ad8",
    "name": "payments.commands process",
    "kind": "consumer",
    "service": "accounts",
    "start_unix_nano": 1780000000000000000,
    "end_unix_nano": 1780000000002500000,
    "duration_ms": 2.5,
    "status": "unset",
    "attributes": {"messaging.system": "kafka", "messaging.destination.name": "payments.commands"},
    "events": [],
    "links": [],
}


class SpanEvent(BaseModel):
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


class SpanLink(BaseModel):
    trace_id: str
    span_id: str


class TraceSpan(BaseModel):
    """A finished span, as OpenTelemetry recorded it in this process."""

    model_config = ConfigDict(json_schema_extra={"examples": [SPAN_EXAMPLE]})

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str = Field(description="server, client, producer, consumer or internal")
    service: str
    start_unix_nano: int
    end_unix_nano: int
    duration_ms: float
    status: str = Field(description="unset, ok or error")
    attributes: dict[str, Any]
    events: list[SpanEvent]
    links: list[SpanLink]


class TraceSpans(BaseModel):
    service: str
    trace_id: str
    spans: list[TraceSpan] = Field(description="This process's spans of the trace, by start time")


class RecentTraces(BaseModel):
    service: str
    enabled: bool = Field(description="False when OTEL_SDK_DISABLED turned tracing off")
    traces: list[TraceSpans] = Field(description="The traces with the latest finished spans here, newest first")


TraceId = Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="A W3C trace id: 32 lowercase hex digits")]


def trace_router(runtime: Runtime) -> APIRouter:
    """The last finished spans this process keeps (shared/tracing.py), for a console that
    assembles a trace from every process's answer: no collector needed."""
    router = APIRouter(tags=["internal"])
    tracing = runtime.tracing

    @router.get("/internal/traces", response_model=RecentTraces, summary="The latest traces seen here")
    async def recent_traces(
        limit: Annotated[int, Query(ge=1, le=500, description="At most this many traces")] = 20,
        mentions: Annotated[
            str | None,
            Query(
                min_length=4,
                max_length=100,
                description="Only the traces one of whose spans names this text (an id) in its name, "
                "an attribute or an event's attribute",
            ),
        ] = None,
    ) -> RecentTraces:
        found = tracing.mentioning(mentions, limit) if mentions else tracing.latest(limit)
        traces = [
            TraceSpans.model_validate({"service": runtime.service, "trace_id": spans[0]["trace_id"], "spans": spans})
            for spans in found
        ]
        return RecentTraces(service=runtime.service, enabled=tracing.enabled, traces=traces)

    @router.get("/internal/traces/{trace_id}", response_model=TraceSpans, summary="This process's spans of a trace")
    async def trace_spans(trace_id: TraceId) -> TraceSpans:
        """Every span of the trace this process still keeps (none if it took no part, or
        its spans left the ring since), by start time."""
        spans = [TraceSpan.model_validate(s) for s in tracing.trace(trace_id)]
        return TraceSpans(service=runtime.service, trace_id=trace_id, spans=spans)

    return router


TrailPage = Annotated[Page, paging(default=100, most=1000, cursor_doc="`next_cursor` of the page before")]


def audit_router(runtime: Runtime) -> APIRouter:
    """This process's audit trail (shared/audit.py): its entries by filter, and the check
    of its hash chain. The gateway's /v1/admin/audit merges every process's answers."""
    router = APIRouter(tags=["internal"])
    tables = runtime.tables.audit

    @router.get("/internal/audit", response_model=audit.AuditPage, summary="This process's audit entries")
    async def list_audit(
        page: TrailPage,
        customer_id: Annotated[str | None, Query(max_length=36)] = None,
        account_id: Annotated[str | None, Query(max_length=64)] = None,
        actor: Annotated[str | None, Query(max_length=100)] = None,
        action: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[datetime | None, Query(alias="from")] = None,
        until: Annotated[datetime | None, Query(alias="to")] = None,
    ) -> audit.AuditPage:
        """Entries matching every filter given, oldest first (by time on the sandbox
        clock), after `cursor` (which may come from another process's page)."""
        try:
            after = audit.Cursor.decode(page.cursor) if page.cursor else None
        except ValueError:
            raise Problem(422, "invalid-cursor", "the cursor is not one this trail gave out") from None
        for when in (since, until):
            if when is not None and when.tzinfo is None:
                raise Problem(422, "invalid-time", "times need a zone, e.g. 2025-06-02T09:00:00Z")
        found = audit.AuditFilter(customer_id, account_id, actor, action, since, until, after)
        async with runtime.db.read() as session:
            items = await audit.query(session, tables, runtime.service, found, limit=page.limit)
        last = audit.Cursor.of(items[-1]).encode() if len(items) == page.limit else None
        return audit.AuditPage(service=runtime.service, items=items, next_cursor=last)

    @router.get("/internal/audit/verify", response_model=audit.ChainCheck, summary="Check the audit hash chain")
    async def verify_audit() -> audit.ChainCheck:
        """Walk the whole chain: each row's hash over its content and the previous row's
        hash; the first row that does not fit is named."""
        async with runtime.db.read() as session:
            return await audit.verify(session, tables, runtime.service)

    return router
