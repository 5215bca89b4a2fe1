"""The console's pure parts: a flow's arrows from its spans, and the feed's ring."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord

from gateway.console.feed import EventFeed, customer_of, trace_id_of
from gateway.console.flows import hops, lifelines, outcome
from shared.internal import TraceSpan

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def span(
    span_id: str, service: str, kind: str, name: str, start: int, parent: str | None = None, **attributes: Any
) -> TraceSpan:
    events = attributes.pop("events", [])
    return TraceSpan(
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=kind,
        service=service,
        start_unix_nano=start * 1_000_000,
        end_unix_nano=start * 1_000_000 + 500_000,
        duration_ms=0.5,
        status="unset",
        attributes=attributes,
        events=events,
        links=[],
    )


SAGA_ENDED = {
    "name": "saga ended",
    "time_unix_nano": 9,
    "attributes": {"saga.id": "p1", "saga.kind": "transfer", "saga.outcome": "completed"},
}
TRANSFER = [
    span("a", "gateway", "server", "POST /v1/payments/transfers", 0),
    span("b", "gateway", "client", "POST", 1, "a", **{"url.full": "http://127.0.0.1:8002/v1/payments/transfers"}),
    span("c", "payments", "server", "POST /v1/payments/transfers", 2, "b"),
    span("d", "payments", "producer", "accounts.commands publish", 3, "c"),
    span("e", "accounts", "consumer", "accounts.commands process", 4, "d", **{"sandbank.message.type": "Reserve"}),
    span("f", "payments", "internal", "saga timeouts", 5, events=[SAGA_ENDED]),
    span("g", "accounts", "consumer", "accounts.events dead-letter", 6, "d"),
    span("h", "gateway", "client", "GET", 7, "a", **{"url.full": "http://127.0.0.1:8009/nowhere"}),
]


def test_each_span_becomes_an_arrow_from_its_caller_in_start_order() -> None:
    drawn = hops(list(reversed(TRANSFER)))
    assert [(h.source, h.target, h.kind) for h in drawn] == [
        ("phone", "gateway", "http"),
        ("gateway", "payments", "http"),  # the client span "b" is drawn by its server span
        ("payments", "accounts.commands", "publish"),
        ("accounts.commands", "accounts", "consume"),
        ("payments", "payments", "internal"),
        ("accounts.events", "accounts", "dead-letter"),
        ("gateway", "127.0.0.1:8009", "http"),  # a call no server span answered
    ]
    assert [h.start_ms for h in drawn] == [0, 2, 3, 4, 5, 6, 7]
    assert drawn[3].label == "Reserve"
    assert drawn[4].notes == ["saga transfer completed"]


def test_topics_stand_beside_the_process_that_owns_them() -> None:
    drawn = hops(TRANSFER)
    assert lifelines(drawn) == [
        "phone",
        "gateway",
        "payments",
        "accounts",
        "accounts.commands",
        "accounts.events",
        "127.0.0.1:8009",
    ]


def test_the_outcome_is_the_last_saga_end_recorded() -> None:
    assert outcome(TRANSFER) == "completed"
    assert outcome(TRANSFER[:3]) is None


def record(
    offset: int, data: dict[str, Any], *, topic: str = "payments.events", traceparent: bytes | None = None
) -> Any:
    body: dict[str, Any] = {
        "id": f"m{offset}",
        "type": "payments.PaymentCompleted",
        "time": "2025-06-02T09:31:00+00:00",
    }
    body |= {"correlation_id": "c1", "data": data}
    headers = [("traceparent", traceparent)] if traceparent else []
    return ConsumerRecord(topic, 0, offset, 0, 0, b"p1", orjson.dumps(body), None, len(b"p1"), 0, tuple(headers))


@pytest.mark.parametrize(
    ("data", "customer"),
    [
        ({"customer_id": "c7"}, "c7"),
        ({"payee_customer_id": "c8", "amount_minor": 1}, "c8"),
        ({"amount_minor": 1}, None),
        ([], None),
    ],
)
def test_the_customer_is_the_one_the_payload_names(data: Any, customer: str | None) -> None:
    assert customer_of(data) == customer


def test_the_trace_id_comes_from_the_traceparent_header() -> None:
    assert trace_id_of([("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01".encode())]) == TRACE
    assert trace_id_of([("traceparent", b"garbage")]) is None
    assert trace_id_of([]) is None


def test_the_feed_keeps_the_last_messages_and_filters_them() -> None:
    feed = EventFeed(size=3)
    for offset in range(5):
        feed.add(record(offset, {"customer_id": "c7" if offset % 2 else "c9"}))
    assert [e.seq for e in feed.after(0, 10)] == [3, 4, 5]
    assert [e.seq for e in feed.after(3, 10)] == [4, 5]
    assert [e.seq for e in feed.after(0, 10, customer_id="c7")] == [4]
    assert feed.after(0, 10, topic="accounts.events") == []
    assert feed.after(0, 1)[0].key == "p1"


async def test_a_waiting_reader_wakes_on_the_next_message_not_on_a_timer() -> None:
    feed = EventFeed()
    waiting = asyncio.create_task(feed.wait(0, 10, 5.0, customer_id="c7"))
    await asyncio.sleep(0)
    feed.add(record(0, {"customer_id": "other"}))
    await asyncio.sleep(0)
    assert not waiting.done(), "a message of another customer does not end the wait"
    feed.add(record(1, {"customer_id": "c7"}))
    found = await asyncio.wait_for(waiting, 1.0)
    assert [e.customer_id for e in found] == ["c7"]
    assert await feed.wait(feed.seq, 10, 0.01) == []
