"""The W3C trace context travels with each message: kept on its outbox row, sent by the
relay as the `traceparent` header of a publish span, and continued by the consumer's span
for the message, whose own messages carry it on."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context.context import Context, _RuntimeContext
from sqlalchemy import MetaData, select

from shared import tracing as tracing_module
from shared.db import Database
from shared.events import Envelope
from shared.events import payments as pay
from shared.events.topics import PAYMENTS_EVENTS
from shared.kafka import signing
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.messaging import UnitOfWork, messaging_tables
from shared.kafka.relay import OutboxRelay
from shared.keys import Keyring
from shared.settings import TracingSettings
from shared.tracing import Tracing, context_of_headers, headers_context, trace_headers

metadata = MetaData()
tables = messaging_tables(metadata)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"
PARENT = f"00-{TRACE_ID}-{SENDER_SPAN}-01"


def _completed(payment_id: str = "p-1") -> pay.PaymentCompleted:
    return pay.PaymentCompleted(
        payment_id=payment_id,
        customer_id="c-1",
        payee_customer_id="c-2",
        kind="transfer",
        amount_minor=100,
        currency="CNY",
        payer_account_id="a-1",
        payee_account_id="a-2",
        entry_id="e-1",
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    await database.create_all(metadata)
    yield database
    await database.dispose()


@pytest.fixture
def tracing() -> Tracing:
    return Tracing("payments", TracingSettings(sdk_disabled=False))


async def outbox_rows(db: Database) -> list[Any]:
    async with db.read() as session:
        return list((await session.execute(select(tables.outbox).order_by(tables.outbox.c.id))).all())


class SentBatches:
    """A producer that keeps what it was given instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, bytes, list[tuple[str, bytes]]]] = []

    async def send_many(self, batch: list[tuple[str, str | None, bytes, list[tuple[str, bytes]]]]) -> None:
        self.sent += batch


async def test_a_message_written_in_a_span_keeps_its_context_on_the_outbox_row(db: Database, tracing: Tracing) -> None:
    with tracing.span("a request") as span:
        assert span is not None
        async with UnitOfWork(db, tables, source="payments") as uow:
            uow.publish(_completed())
    context = span.get_span_context()

    (row,) = await outbox_rows(db)
    assert row.trace_context == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert all(name != "traceparent" for name, _ in row.headers)


async def test_a_message_written_outside_a_trace_has_no_context(db: Database, tracing: Tracing) -> None:
    async with UnitOfWork(db, tables, source="payments") as uow:
        uow.publish(_completed())

    (row,) = await outbox_rows(db)
    assert row.trace_context is None


async def test_a_message_that_carries_its_context_keeps_it(db: Database, tracing: Tracing) -> None:
    """A dead letter replayed: it goes out in its original trace, not the operator's."""
    with tracing.span("the operator's replay request"):
        async with UnitOfWork(db, tables, source="accounts") as uow:
            uow.publish_raw(
                "accounts.commands",
                "k",
                b"{}",
                [["type", "accounts.ReserveFunds"], ["traceparent", PARENT], ["tracestate", "vendor=1"]],
            )

    (row,) = await outbox_rows(db)
    assert row.trace_context == f"{PARENT};vendor=1"
    assert row.headers == [["type", "accounts.ReserveFunds"]]


async def test_the_relay_sends_each_row_under_a_publish_span_of_its_trace(db: Database, tracing: Tracing) -> None:
    async with UnitOfWork(db, tables, source="payments") as uow:
        uow.publish_raw(PAYMENTS_EVENTS, "k1", b"{}", [["type", "t"], ["traceparent", PARENT], ["tracestate", "v=1"]])
        uow.publish_raw(PAYMENTS_EVENTS, "k2", b"{}", [["type", "t"]])
    producer = SentBatches()
    relay = OutboxRelay(db, tables, producer, tracing=tracing)  # type: ignore[arg-type]

    assert await relay.drain_once() == 2

    (_, _, _, traced), (_, _, _, untraced) = producer.sent
    assert context_of_headers(untraced) is None
    (publish,) = [s for s in tracing.latest(10)[0] if s["name"] == f"{PAYMENTS_EVENTS} publish"]
    assert (publish["trace_id"], publish["parent_span_id"], publish["kind"]) == (TRACE_ID, SENDER_SPAN, "producer")
    assert context_of_headers(traced) == f"00-{TRACE_ID}-{publish['span_id']}-01;v=1"
    # After a restart the row is read again from the table: the context is the row's.
    assert [r.trace_context for r in await outbox_rows(db)] == [f"{PARENT};v=1", None]


def test_the_trace_headers_are_not_signed() -> None:
    """A signature covers the topic, key and value: the trace headers a relay adds to a
    message signed by its sender (a replay) leave the signature good."""
    keys = Keyring.load(os.environ["AUTH_KEYS_DIR"], "payments")
    headers = dict([*signing.sign(keys, PAYMENTS_EVENTS, b"k", b"v"), *trace_headers(PARENT)])

    assert signing.verified_signer(keys, PAYMENTS_EVENTS, b"k", b"v", headers) == "payments"


async def test_the_consumer_handles_a_message_in_a_span_of_its_trace(db: Database, tracing: Tracing) -> None:
    published: list[str] = []

    async def notify(uow: UnitOfWork, envelope: Envelope, _message: Any) -> None:
        published.append(uow.publish(_completed("p-2")).id)

    consumer = ConsumerLoop(
        name="gateway-notifications",
        db=db,
        tables=tables,
        bootstrap_servers="127.0.0.1:1",
        topics=[PAYMENTS_EVENTS],
        handlers={pay.PaymentCompleted.TYPE: notify},
        source="payments",
        keys=Keyring.load(os.environ["AUTH_KEYS_DIR"], "gateway"),
        tracing=tracing,
    )
    envelope = Envelope.wrap(_completed(), source="payments")
    key, value = envelope.subject.encode(), envelope.to_bytes()
    signed = signing.sign(Keyring.load(os.environ["AUTH_KEYS_DIR"], "payments"), PAYMENTS_EVENTS, key, value)
    record = SimpleNamespace(
        topic=PAYMENTS_EVENTS,
        partition=0,
        offset=7,
        key=key,
        value=value,
        headers=[("type", envelope.type.encode()), *signed, ("traceparent", PARENT.encode())],
    )

    await consumer.apply([record])  # type: ignore[list-item]

    assert len(published) == 1
    (handled,) = tracing.trace(TRACE_ID)
    assert (handled["name"], handled["kind"], handled["parent_span_id"]) == (
        f"{PAYMENTS_EVENTS} process",
        "consumer",
        SENDER_SPAN,
    )
    assert handled["attributes"]["messaging.kafka.offset"] == 7
    (row,) = await outbox_rows(db)
    assert row.trace_context == f"00-{TRACE_ID}-{handled['span_id']}-01"


def test_tracing_turned_off_records_nothing() -> None:
    off = Tracing("payments", TracingSettings(sdk_disabled=True))

    with off.span("anything") as span:
        assert span is None
    assert (off.enabled, off.tracer, off.latest(10)) == (False, None, [])


@pytest.mark.parametrize(
    "parent",
    [
        "garbage",
        f"01-{TRACE_ID}-{SENDER_SPAN}-01",
        f"00-{'0' * 32}-{SENDER_SPAN}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID[:-1]}x-{SENDER_SPAN}-01",
        f"00-{TRACE_ID}-{SENDER_SPAN}",
        f"00-{TRACE_ID}-{SENDER_SPAN}-0",
        f"00--{TRACE_ID[1:]}-{SENDER_SPAN}-01",
        f"00-{TRACE_ID}--{SENDER_SPAN[1:]}-01",
        f"00-{TRACE_ID}-{SENDER_SPAN}--1",
        f"00-{TRACE_ID}-{SENDER_SPAN}-0g",
        f"00-{TRACE_ID}-{SENDER_SPAN}-01x",
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(tracing: Tracing, parent: str) -> None:
    with tracing.span("handling", parent=parent, consumer=True) as span:
        assert span is not None
    (spans,) = tracing.latest(1)
    assert spans[0]["parent_span_id"] is None
    assert spans[0]["trace_id"] not in (TRACE_ID, "0" * 32)


@pytest.mark.parametrize("flags", ["01", "03"])
def test_a_sampled_traceparent_is_continued_with_its_flags_and_state(tracing: Tracing, flags: str) -> None:
    with tracing.span("handling", parent=f"00-{TRACE_ID}-{SENDER_SPAN}-{flags};v=1", consumer=True) as span:
        assert span is not None
        context = tracing_module.trace_context()
    (handled,) = tracing.trace(TRACE_ID)
    assert handled["parent_span_id"] == SENDER_SPAN
    assert context == f"00-{TRACE_ID}-{handled['span_id']}-{flags};v=1"


def test_an_unsampled_traceparent_records_nothing_and_passes_the_trace_on(tracing: Tracing) -> None:
    with tracing.span("handling", parent=f"00-{TRACE_ID}-{SENDER_SPAN}-00", consumer=True) as span:
        assert span is not None and not span.is_recording()
        context = tracing_module.trace_context()
    assert tracing.latest(10) == []
    assert context is not None and context.startswith(f"00-{TRACE_ID}-") and context.endswith("-00")


def test_a_messages_trace_context_is_its_last_traceparent_and_tracestate_with_a_value() -> None:
    headers = [
        ("traceparent", b"00-old"),
        ("tracestate", None),
        ("type", b"payments.PaymentCompleted"),
        ("traceparent", PARENT.encode()),
        ("tracestate", b"v=1"),
        ("traceparent", None),
        ("tracestate", b""),
    ]
    assert headers_context(headers) == f"{PARENT};v=1"
    assert headers_context(headers[:4]) == PARENT
    assert headers_context([("type", b"t"), ("tracestate", b"v=1")]) is None
    assert context_of_headers([["traceparent", PARENT], ["tracestate", "v=1"]]) == f"{PARENT};v=1"


def test_the_current_span_is_opentelemetrys_current_span(tracing: Tracing) -> None:
    """Spans are made current in OpenTelemetry's own context: a span the API made current
    is the parent of one opened in it, and the API sees the one opened."""
    api_span = tracing.tracer.start_span("the API's") if tracing.tracer is not None else None
    assert api_span is not None
    with otel_trace.use_span(api_span, end_on_exit=True), tracing.span("ours") as span:
        assert otel_trace.get_current_span() is span
        assert tracing_module.trace_id() == f"{api_span.get_span_context().trace_id:032x}"
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN
    ours, theirs = sorted(tracing.latest(1)[0], key=lambda s: s["name"] != "ours")
    assert ours["parent_span_id"] == theirs["span_id"]


class ListedContexts(_RuntimeContext):
    """A runtime context of OpenTelemetry's other than its contextvars one: a stack."""

    def __init__(self) -> None:
        self.stack = [Context()]

    def attach(self, context: Context) -> Any:
        self.stack.append(context)
        return len(self.stack) - 1

    def get_current(self) -> Context:
        return self.stack[-1]

    def detach(self, token: Any) -> None:
        del self.stack[token:]


def test_spans_nest_under_another_runtime_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", ListedContexts())
    traced = Tracing("payments", TracingSettings(sdk_disabled=False))

    with traced.span("outer") as outer, traced.span("inner") as inner:
        assert otel_trace.get_current_span() is inner
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN
    assert outer is not None and inner is not None
    assert inner.parent == outer.get_span_context()  # type: ignore[attr-defined]
