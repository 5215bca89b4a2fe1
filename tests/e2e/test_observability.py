"""What an operator sees of the stack: one trace per request across HTTP and Kafka, read
from every process's GET /internal/traces; a dead letter replayed in its original trace;
/metrics in Prometheus' own format with the histograms."""

from __future__ import annotations

import os
import secrets
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from shared.auth import ROLE_OPERATOR, TokenIssuer
from shared.kafka import signing
from shared.keys import Keyring
from shared.settings import AuthSettings
from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import Stack

pytestmark = pytest.mark.e2e

PROCESSES = ("gateway", "accounts", "payments", "securities", "insurance")


def operator_of(service: str) -> dict[str, str]:
    """An operator's token for one process, vouched for by the gateway's key, as the
    gateway mints them (a process takes only tokens meant for it)."""
    issuer = TokenIssuer(Keyring.load(os.environ["AUTH_KEYS_DIR"], "gateway"), AuthSettings())
    token = issuer.issue("test-operator", [ROLE_OPERATOR], audience=service, ttl_s=300)
    return {"authorization": f"Bearer {token}"}


async def spans_of(stack: Stack, trace_id: str) -> list[dict[str, Any]]:
    """The trace's spans from every process, by start time."""
    found: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for process in PROCESSES:
            r = await client.get(f"{stack.url(process)}/internal/traces/{trace_id}", headers=operator_of(process))
            assert r.status_code == 200, r.text
            assert r.json()["service"] == process
            found += r.json()["spans"]
    return sorted(found, key=lambda s: s["start_unix_nano"])


def traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def hops(spans: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Where the request went, in order: each process's server span and each message it
    handled, as (process, span name)."""
    return [(s["service"], s["name"]) for s in spans if s["kind"] in ("server", "consumer")]


def subsequence(wanted: list[tuple[str, str]], found: list[tuple[str, str]]) -> bool:
    rest = iter(found)
    return all(any(hop == w for hop in rest) for w in wanted)


async def test_one_transfer_is_one_trace_across_http_and_kafka(stack: Stack, gateway: httpx.AsyncClient) -> None:
    payer = await register_and_login(gateway)
    account = await payer.open_account("checking")
    await payer.settled((await payer.deposit(account["id"], "100.00"))["id"])
    payee = await register_and_login(gateway)
    await payee.open_account("checking")
    trace_id, parent = traceparent()

    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": account["id"], "payee_phone": payee.phone, "amount": "12.34"},
        headers={"Idempotency-Key": str(uuid.uuid4()), "traceparent": parent},
    )
    assert r.status_code == 202, r.text

    wanted = [
        ("gateway", "POST /v1/payments/transfers"),
        ("payments", "POST /v1/payments/transfers"),
        # Risk approved at the request: one command holds and captures (ADR 0021).
        ("accounts", "accounts.commands process"),
        ("payments", "accounts.events process"),
        ("gateway", "payments.events process"),
    ]

    async def whole() -> list[dict[str, Any]] | None:
        spans = await spans_of(stack, trace_id)
        return spans if subsequence(wanted, hops(spans)) else None

    spans = await eventually(whole, timeout_s=15, every_s=0.2)
    assert {s["trace_id"] for s in spans} == {trace_id}
    # One tree: every span's parent is a span of the trace, but the root's, the phone's.
    ids = {s["span_id"] for s in spans}
    assert [s["name"] for s in spans if s["parent_span_id"] not in ids] == ["POST /v1/payments/transfers"]
    # Each message was published under a span of its own, before it was handled.
    by_id = {s["span_id"]: s for s in spans}
    for handled in (s for s in spans if s["kind"] == "consumer"):
        published = by_id[handled["parent_span_id"]]
        assert published["kind"] == "producer", (handled, published)
        assert published["start_unix_nano"] <= handled["start_unix_nano"]
    # The saga's steps and outcome ride on the payments spans that decided them.
    events = [(e["name"], e["attributes"]) for s in spans if s["service"] == "payments" for e in s["events"]]
    assert any(name == "saga ended" and attrs["saga.outcome"] == "completed" for name, attrs in events), events
    # Its one step, the payment with its capture, through the primitive.
    assert {a["saga.step"] for name, a in events if name == "saga step"} == {"pay"}


async def test_a_replayed_dead_letter_joins_its_original_trace(
    stack: Stack, gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    marker = f"poison-{uuid.uuid4()}"
    value, key = f"not json {marker}".encode(), marker.encode()
    trace_id, parent = traceparent()
    headers = [*signing.sign(Keyring.load(os.environ["AUTH_KEYS_DIR"], "payments"), "accounts.commands", key, value)]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            "accounts.commands", value, key=key, headers=[*headers, ("traceparent", parent.encode())]
        )
    finally:
        await producer.stop()

    async def listed() -> dict[str, Any] | None:
        r = await gateway.get("/v1/admin/dead-letters", headers=operator_headers)
        accounts = next(s for s in r.json()["services"] if s["service"] == "accounts")
        return next((d for d in accounts["items"] if d["key"] == marker), None)

    letter = await eventually(listed, timeout_s=15)
    r = await gateway.post(f"/v1/admin/dead-letters/accounts/{letter['id']}/replay", headers=operator_headers)
    assert r.status_code == 200, r.text

    async def twice() -> list[dict[str, Any]] | None:
        # Each dead letter, and each .dlq copy, which the relay publishes just after the
        # dead letter's commit: wait for both, or the second copy can be a moment away.
        spans = await spans_of(stack, trace_id)
        dead = [s for s in spans if s["name"] == "accounts.commands dead-letter"]
        copies = [s for s in spans if s["name"] == "accounts.commands.dlq publish"]
        return spans if len(dead) == 2 and len(copies) == 2 else None

    spans = await eventually(twice, timeout_s=15, every_s=0.2)
    first, again = (s for s in spans if s["name"] == "accounts.commands dead-letter")
    # The replay went out again under a publish span in the trace, which the second
    # dead letter continues; the first one's parent is the sender's own span.
    assert first["parent_span_id"] == parent.split("-")[2]
    republished = next(s for s in spans if s["span_id"] == again["parent_span_id"])
    assert (republished["service"], republished["name"]) == ("accounts", "accounts.commands publish")
    # Each .dlq copy went out in the trace too.
    assert sum(s["name"] == "accounts.commands.dlq publish" for s in spans) == 2


HISTOGRAMS = {
    "sandbank_http_request_duration_seconds",
    "sandbank_consumer_batch_size",
    "sandbank_event_loop_lag_seconds",
    "sandbank_saga_duration_seconds",
}


async def test_metrics_of_every_process_parse_and_hold_the_histograms(stack: Stack, gateway: httpx.AsyncClient) -> None:
    # A payment first, so payments has a saga ended and every process a request served.
    payer = await register_and_login(gateway)
    account = await payer.open_account("checking")
    await payer.settled((await payer.deposit(account["id"], "10.00"))["id"])
    async with httpx.AsyncClient(timeout=10) as client:
        for process in PROCESSES:
            r = await client.get(f"{stack.url(process)}/metrics", headers=operator_of(process))
            assert r.status_code == 200, r.text
            families = {f.name: f for f in text_string_to_metric_families(r.text)}
            histograms = {name for name, f in families.items() if f.type == "histogram"}
            assert histograms >= HISTOGRAMS, (process, histograms)
            for name in (
                "sandbank_outbox_backlog",
                "sandbank_outbox_oldest_unpublished_age_seconds",
                "sandbank_consumer_lag",
                "sandbank_consumer_partition_lag",
                "sandbank_consumer_lag_stale",
                "sandbank_consumer_renewals",
                "sandbank_producer_renewals",
                "sandbank_consumer_duplicates",
                "sandbank_event_loop_stalls",
            ):
                assert name in families, (process, name)
            routes = {s.labels["route"] for s in families["sandbank_http_request_duration_seconds"].samples}
            assert not any("/" in r and r.count("-") >= 4 for r in routes), routes  # templates, never ids
            lag = families["sandbank_consumer_partition_lag"].samples
            assert lag and all(s.labels["topic"] and s.labels["partition"].isdigit() for s in lag), process
            if process == "payments":
                ended = [
                    s
                    for s in families["sandbank_saga_duration_seconds"].samples
                    if s.name.endswith("_count") and s.labels["outcome"] == "completed"
                ]
                assert sum(s.value for s in ended) >= 1, ended


async def test_traces_are_for_operators_and_services_only(stack: Stack, customer: Phone) -> None:
    async with httpx.AsyncClient(base_url=stack.url("payments"), timeout=10) as client:
        assert (await client.get("/internal/traces")).status_code == 401
        assert (await client.get(f"/internal/traces/{'0' * 31}x", headers=operator_of("payments"))).status_code == 422
        r = await client.get("/internal/traces", params={"limit": 5}, headers=operator_of("payments"))
    assert r.status_code == 200 and r.json()["enabled"] and len(r.json()["traces"]) <= 5
    assert (await customer.get("/internal/traces")).status_code == 403
