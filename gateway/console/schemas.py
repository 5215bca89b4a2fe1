"""What the operator console's JSON routes answer (gateway/console/api.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.internal import SagaSummary, TraceSpan

FEED_EVENT_EXAMPLE: dict[str, Any] = {
    "seq": 42,
    "topic": "payments.events",
    "type": "payments.transfer_completed",
    "key": "5a0e1d3c-0000-4000-8000-000000000101",
    "customer_id": "0b7c1d2e-0000-4000-8000-000000000007",
    "correlation_id": "c0ffee00-0000-4000-8000-000000000001",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "message_id": "0f4e2b7c-9a1d-4c6e-8b3f-5d2a7e1c9b40",
    "time": "2025-06-02T09:31:00.120Z",
}


class FeedEventPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FEED_EVENT_EXAMPLE]})

    seq: int = Field(description="The feed's own number for the message; ask for those `after` it")
    topic: str
    type: str
    key: str | None = Field(description="The message's partition key")
    customer_id: str | None = Field(description="The customer the payload names, if it names one")
    correlation_id: str | None
    trace_id: str | None = Field(description="From the message's traceparent header")
    message_id: str | None
    time: datetime = Field(description="When its sender says it happened (sandbox clock)")


class FeedPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"last_seq": 42, "events": [FEED_EVENT_EXAMPLE]}]})

    last_seq: int = Field(description="The feed's latest `seq`: the next call's `after`")
    events: list[FeedEventPublic] = Field(description="Oldest first")


HOP_EXAMPLE: dict[str, Any] = {
    "source": "gateway",
    "target": "payments",
    "kind": "http",
    "label": "POST /v1/payments/transfers",
    "span_id": "00f067aa0ba902b7",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "start_ms": 1.2,
    "duration_ms": 8.4,
    "status": "unset",
    "notes": ["saga step reserve"],
}


class FlowHop(BaseModel):
    """One arrow of the sequence diagram: an HTTP call, a message published to or taken
    from a topic, or a process's own work (`source` = `target`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [HOP_EXAMPLE]})

    source: str = Field(description="A lifeline: `phone`, a process, or a topic")
    target: str
    kind: str = Field(description="http, publish, consume, dead-letter or internal")
    label: str
    span_id: str
    trace_id: str
    start_ms: float = Field(description="Milliseconds after the flow's first span started")
    duration_ms: float
    status: str = Field(description="unset, ok or error")
    notes: list[str] = Field(description="The span's events: the saga's steps, retries and outcome")


class Flow(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5a0e1d3c-0000-4000-8000-000000000101",
                    "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"],
                    "lifelines": ["phone", "gateway", "payments", "accounts.commands", "accounts"],
                    "hops": [HOP_EXAMPLE],
                    "spans": [],
                    "outcome": "completed",
                    "unavailable": [],
                }
            ]
        }
    )

    id: str
    trace_ids: list[str] = Field(description="The traces that name the id, oldest first")
    lifelines: list[str] = Field(description="The diagram's columns, left to right")
    hops: list[FlowHop] = Field(description="In the order they started")
    spans: list[TraceSpan] = Field(description="Every span of those traces, from every process, by start time")
    outcome: str | None = Field(description="The saga's outcome, once a span records one")
    unavailable: list[str] = Field(description="Processes that did not answer")


PROCESS_EXAMPLE: dict[str, Any] = {
    "name": "payments",
    "ready": True,
    "checks": {"database": True, "broker": True},
    "consumer_lag": {"payments": 0},
}


class ProcessState(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PROCESS_EXAMPLE]})

    name: str
    ready: bool
    checks: dict[str, Any] = Field(description="Its /readyz checks")
    consumer_lag: dict[str, float] = Field(description="Messages behind per consumer group (sandbank_consumer_lag)")


class TopicState(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "payments.events", "owner": "payments", "rate_per_s": 3.5, "readers": ["gateway"]}]
        }
    )

    name: str
    owner: str
    rate_per_s: float | None = Field(description="Messages per second seen by the feed (commands topics: none)")
    readers: list[str] = Field(description="The processes that consume it")


class SystemView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"processes": [PROCESS_EXAMPLE], "topics": [], "feed_running": True, "feed_received": 120}]
        }
    )

    processes: list[ProcessState]
    topics: list[TopicState]
    feed_running: bool = Field(description="Whether the feed reads the topics now: while a page reads it")
    feed_received: int = Field(description="Messages the feed has read since the gateway started")


class SagaSummaries(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"services": [], "unavailable": ["insurance"], "in_flight": 1}]}
    )

    services: list[SagaSummary]
    unavailable: list[str]
    in_flight: int = Field(description="Sagas still running, everywhere")
