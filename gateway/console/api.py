"""The live operator console: the page at /console (gateway/console/static, no build
step) and the JSON routes it reads under /v1/admin/console: the live event feed, a
flow's sequence diagram from every process's recent spans, the system with its rates,
lag and health, and the sagas by outcome. Dead letters, stuck sagas, the ledger check,
faults, the clock and reset are the operator and sandbox routes the page calls as they
are."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from prometheus_client.parser import text_string_to_metric_families

from gateway.console import flows
from gateway.console.feed import FEED_TOPICS, EventFeed, FeedEvent, FeedReader
from gateway.console.schemas import (
    FeedEventPublic,
    FeedPage,
    Flow,
    ProcessState,
    SagaSummaries,
    SystemView,
    TopicState,
)
from gateway.deps import Gateway, GatewayDep, Operator
from gateway.ops.api import SERVICES
from gateway.routing.upstream import ITSELF, UpstreamResponse
from shared.events import topics
from shared.internal import SagaSummary, TraceSpan, TraceSpans, saga_counts
from shared.problems import PROBLEM, Problem

STATIC = FilePath(__file__).parent / "static"
# The page's files: nothing else under /console is served.
PAGE_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
# How many traces naming one id a flow gathers, newest first.
FLOW_TRACES = 10

router = APIRouter(prefix="/v1/admin/console", tags=["operator"], responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
page_router = APIRouter(include_in_schema=False)


@page_router.get("/console")
async def console_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"cache-control": "no-cache"})


@page_router.get("/console/{name}")
async def console_file(name: str) -> FileResponse:
    if name not in PAGE_FILES:
        raise Problem(404, "not-found", f"the console has no file {name}")
    return FileResponse(STATIC / name, media_type=PAGE_FILES[name], headers={"cache-control": "no-cache"})


@dataclass(frozen=True)
class Console:
    feed: EventFeed
    reader: FeedReader


def install(gateway: Gateway) -> Console:
    """The console's feed, filled by a reader the gateway's runtime runs in the background."""
    settings = gateway.settings
    feed = EventFeed()
    client_id = f"{settings.service}-console"
    reader = FeedReader(feed, settings.kafka.bootstrap_servers, client_id, doorbell=gateway.runtime.doorbell)
    gateway.runtime.background.append(reader.run)
    return Console(feed, reader)


async def current_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(current_console)]


def _public(event: FeedEvent) -> FeedEventPublic:
    return FeedEventPublic(
        seq=event.seq,
        topic=event.topic,
        type=event.type,
        key=event.key,
        customer_id=event.customer_id,
        correlation_id=event.correlation_id,
        trace_id=event.trace_id,
        message_id=event.message_id,
        time=event.time,
    )


Filter = Annotated[str | None, Query(min_length=1, max_length=100)]


@router.get("/events", response_model=FeedPage)
async def read_events(
    _operator: Operator,
    console: ConsoleDep,
    after: Annotated[int, Query(ge=0, le=2**53, description="The last `seq` the caller has")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    wait_s: Annotated[
        float, Query(ge=0, le=30, description="Wait this long for a message after `after` (a long poll)")
    ] = 0,
    topic: Filter = None,
    type: Filter = None,
    customer: Filter = None,
    correlation: Filter = None,
) -> FeedPage:
    """The last messages of every `*.events` topic the gateway read (it keeps about
    2,000), after `after`, oldest first, filtered by topic, type, customer and correlation
    id. With `wait_s`, an empty answer waits for the next matching message. The gateway
    reads the topics for the feed while it is asked for: the first question after a quiet
    minute starts the reading with the newest messages the broker keeps."""
    await console.reader.wanted()
    feed = console.feed
    found = await feed.wait(
        after, limit, wait_s, topic=topic, type=type, customer_id=customer, correlation_id=correlation
    )
    return FeedPage(last_seq=feed.seq, events=[_public(e) for e in found])


FlowId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{3,99}$",
        description="A payment's, transfer's, order's, policy's or claim's id",
    ),
]


async def _fan_out(gw: GatewayDep, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each service's JSON answer to GET `path` (None for one that did not answer)."""
    answers = await asyncio.gather(
        *(gw.upstreams.call(s, "GET", path, caller=ITSELF, params=params) for s in SERVICES),
        return_exceptions=True,
    )
    return {
        service: answer.json() if isinstance(answer, UpstreamResponse) and answer.status_code == 200 else None
        for service, answer in zip(SERVICES, answers, strict=True)
    }


@router.get("/flows/{flow_id}", response_model=Flow)
async def read_flow(flow_id: FlowId, _operator: Operator, gw: GatewayDep) -> Flow:
    """Every span of the traces that name `flow_id` (a saga's id in its events, a
    message's key, a URL path), from the gateway and every service, in time order; and
    the same as the arrows of a sequence diagram. 404 when no process keeps a span that
    names it (spans leave each process's ring of recent ones after a while)."""
    tracing = gw.runtime.tracing
    found = await _fan_out(gw, "/internal/traces", {"mentions": flow_id, "limit": FLOW_TRACES})
    found["gateway"] = {"traces": [{"trace_id": t[0]["trace_id"]} for t in tracing.mentioning(flow_id, FLOW_TRACES)]}
    trace_ids = {t["trace_id"] for answer in found.values() if answer for t in answer["traces"]}
    if not trace_ids:
        raise Problem(404, "not-found", f"no recent trace names {flow_id}")
    spans: dict[str, TraceSpan] = {}
    unavailable = sorted(s for s, a in found.items() if a is None)
    for trace_id in sorted(trace_ids):
        answers = await _fan_out(gw, f"/internal/traces/{trace_id}")
        for answer in answers.values():
            for span in TraceSpans.model_validate(answer).spans if answer else ():
                spans[span.span_id] = span
        for own in tracing.trace(trace_id):
            spans[own["span_id"]] = TraceSpan.model_validate(own)
    ordered = sorted(spans.values(), key=lambda s: s.start_unix_nano)
    starts: dict[str, int] = {}
    for span in ordered:
        starts.setdefault(span.trace_id, span.start_unix_nano)
    drawn = flows.hops(ordered)
    return Flow(
        id=flow_id,
        trace_ids=sorted(starts, key=lambda t: starts[t]),
        lifelines=flows.lifelines(drawn),
        hops=drawn,
        spans=ordered,
        outcome=flows.outcome(ordered),
        unavailable=unavailable,
    )


def _lag(metrics_text: str) -> tuple[dict[str, float], dict[str, set[str]]]:
    """Per consumer group, the messages behind (sandbank_consumer_lag); and per topic the
    groups that read it (sandbank_consumer_partition_lag's labels)."""
    lag: dict[str, float] = {}
    readers: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "sandbank_consumer_lag":
                lag[sample.labels["consumer"]] = sample.value
            elif sample.name == "sandbank_consumer_partition_lag":
                readers.setdefault(sample.labels["topic"], set()).add(sample.labels["service"])
    return lag, readers


async def _process(gw: GatewayDep, service: str) -> tuple[ProcessState, dict[str, set[str]]]:
    async def get(path: str) -> UpstreamResponse | None:
        try:
            return await gw.upstreams.call(service, "GET", path, caller=ITSELF)
        except Exception:  # a process that does not answer is drawn as down
            return None

    ready, metrics = await asyncio.gather(get("/readyz"), get("/metrics"))
    checks: dict[str, Any] = {}
    if ready is not None and ready.status_code in (200, 503):
        checks = ready.json().get("checks", {})
    lag, readers = _lag(metrics.content.decode()) if metrics is not None and metrics.status_code == 200 else ({}, {})
    state = ProcessState(
        name=service,
        ready=ready is not None and ready.status_code == 200,
        checks=checks,
        consumer_lag=lag,
    )
    return state, readers


@router.get("/system", response_model=SystemView)
async def read_system(_operator: Operator, gw: GatewayDep, console: ConsoleDep) -> SystemView:
    """The gateway and every service with their readiness checks and consumer lag, and
    every topic with its owner, its readers and its message rate over the last 10 s."""
    runtime = gw.runtime
    checks = await runtime.readiness()
    # The gateway's own lag as its /metrics reads it, without taking its scrape-to-scrape gauges.
    collector = runtime.metrics.collector
    await asyncio.gather(collector.refresh(), console.reader.wanted())
    own_lag = {group: float(sum(p.values())) for group, p in collector.lag.items()}
    own_readers: dict[str, set[str]] = {}
    for partitions in collector.lag.values():
        for topic, _partition in partitions:
            own_readers.setdefault(topic, set()).add("gateway")
    processes = [ProcessState(name="gateway", ready=all(checks.values()), checks=checks, consumer_lag=own_lag)]
    readers = own_readers
    for state, found in await asyncio.gather(*(_process(gw, s) for s in SERVICES)):
        processes.append(state)
        for topic, groups in found.items():
            readers.setdefault(topic, set()).update(groups)
    feed = console.feed
    rates = feed.rates()
    return SystemView(
        processes=processes,
        topics=[
            TopicState(
                name=t,
                owner=topics.owner(t),
                rate_per_s=rates.get(t, 0.0) if t in FEED_TOPICS else None,
                readers=sorted(readers.get(t, set())),
            )
            for t in topics.ALL
        ],
        feed_running=console.reader.running,
        feed_received=feed.received,
    )


@router.get("/sagas", response_model=SagaSummaries)
async def read_sagas(_operator: Operator, gw: GatewayDep) -> SagaSummaries:
    """Every process's sagas by kind and outcome (`in_flight` while running). A service
    that does not answer is listed in `unavailable`."""
    found = await _fan_out(gw, "/internal/sagas/summary")
    summaries = [SagaSummary.model_validate(a) for a in found.values() if a is not None]
    own = await saga_counts(gw.runtime, list(gw.runtime.saga_tables))
    if own:
        summaries.insert(0, SagaSummary(service="gateway", total=sum(c.count for c in own), counts=own))
    return SagaSummaries(
        services=summaries,
        unavailable=sorted(s for s, a in found.items() if a is None),
        in_flight=sum(c.count for s in summaries for c in s.counts if c.status == "in_flight"),
    )
