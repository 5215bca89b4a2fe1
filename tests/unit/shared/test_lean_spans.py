"""The spans `Tracing` builds itself under the default sampler (shared/tracing.py's lean
span) are the spans the SDK's own tracer builds: the same names, kinds, parents,
attributes, events and status on GET /internal/traces and in the OTLP export, under the
SDK's limits too."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from shared import tracing
from shared.settings import TracingSettings
from shared.tracing import Tracing, span_context

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def a_transfer_hop(traced: Tracing) -> None:
    """What a process does with spans for a transfer, and an error a handler raises."""
    with traced.span("payments.commands process", parent=f"{PARENT};vendor=1", consumer=True) as request:
        assert request is not None
        request.set_attributes({"sandbank.attempt": 2, "messaging.batch.message_count": 100})
        request.set_attribute("http.response.status_code", 202)
        tracing.event("saga step", {"saga.id": "p-1", "saga.step": "reserve", "saga.attempt": 1, "saga.reason": None})
        tracing.event("saga ended", {"saga.id": "p-1", "saga.tags": ["a", "b"], "saga.duration_s": 0.25})
        with traced.outgoing("GET", "http://accounts/internal/accounts/a-1"):
            pass
        publish = traced.start_publish("accounts.commands", tracing.trace_context(), "hold-1")
        assert publish is not None
        span_context(publish, tracing.trace_context())
        publish.end()
    with (
        pytest.raises(ValueError),
        traced.span("saga timeouts", attributes={"saga.table": "payment", "saga.overdue": 3}),
    ):
        raise ValueError("no such payment")


def built(lean: bool) -> tuple[list[dict[str, Any]], list[Any]]:
    traced = Tracing("payments", TracingSettings(sdk_disabled=False))
    assert traced.lean
    traced.lean = lean
    a_transfer_hop(traced)
    return [s for trace in traced.latest(10) for s in trace], list(traced.recent.spans)


def shape(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans with their ids and times left out, each parent named by its span's name."""
    names = {s["span_id"]: s["name"] for s in spans}
    kept = []
    for span in spans:
        events = [{k: v for k, v in e.items() if k != "time_unix_nano"} for e in span["events"]]
        for e in events:
            e["attributes"].pop("exception.stacktrace", None)
        kept.append(
            {
                **{k: v for k, v in span.items() if "_id" not in k and "_nano" not in k and k != "duration_ms"},
                "parent": names.get(span["parent_span_id"], span["parent_span_id"]),
                "events": events,
            }
        )
    return kept


def exported(spans: list[Any]) -> list[dict[str, Any]]:
    """The OTLP export of the spans, with ids, times and stack traces left out."""
    (resource,) = MessageToDict(encode_spans(spans))["resourceSpans"]
    (scope,) = resource["scopeSpans"]
    kept = []
    for span in scope["spans"]:
        for key in ("traceId", "spanId", "parentSpanId", "startTimeUnixNano", "endTimeUnixNano"):
            span.pop(key, None)
        for e in span.get("events", []):
            e.pop("timeUnixNano")
            e["attributes"] = [a for a in e["attributes"] if a["key"] != "exception.stacktrace"]
        kept.append(span)
    return [resource["resource"], scope["scope"], kept]


@pytest.mark.parametrize(
    "limits",
    [
        {},
        {
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "3",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "6",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "1",
        },
    ],
    ids=["default limits", "tight limits"],
)
def test_the_lean_spans_are_the_sdks_spans(limits: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in limits.items():
        monkeypatch.setenv(name, value)
    lean, lean_spans = built(lean=True)
    sdk, sdk_spans = built(lean=False)

    assert len(lean) == 4
    assert shape(lean) == shape(sdk)
    assert exported(lean_spans) == exported(sdk_spans)


def test_an_ended_lean_span_changes_no_more() -> None:
    traced = Tracing("payments", TracingSettings(sdk_disabled=False))
    with traced.span("job", attributes={"a": 1}) as span:
        assert span is not None
    span.set_attributes({"b": 2})
    span.add_event("late")
    span.update_name("renamed")
    span.end()

    ((kept,),) = traced.latest(10)
    assert (kept["name"], kept["attributes"], kept["events"]) == ("job", {"a": 1}, [])
    assert len(traced.recent.spans) == 1
