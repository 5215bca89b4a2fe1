"""The operator console's routes (gateway/console): the page, the live feed, a flow's
sequence diagram assembled from every process's spans, the system view and the sagas."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = pytest.mark.e2e

CONSOLE_ROUTES = (
    "/v1/admin/console/events",
    "/v1/admin/console/flows/5a0e1d3c-0000-4000-8000-000000000101",
    "/v1/admin/console/system",
    "/v1/admin/console/sagas",
)


async def transfer(payer: Phone, payee: Phone, amount: str = "3.00") -> str:
    source, target = await payer.open_account(), await payee.open_account()
    await payer.settled((await payer.deposit(source["id"], "50.00"))["id"])
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def test_the_page_and_its_files_are_served(gateway: httpx.AsyncClient) -> None:
    page = await gateway.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/console/app.js">' in page.text
    script = await gateway.get("/console/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await gateway.get("/console/app.css")).status_code == 200
    missing = await gateway.get("/console/secrets.txt")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", CONSOLE_ROUTES)
async def test_console_routes_are_for_operators(gateway: httpx.AsyncClient, customer: Phone, path: str) -> None:
    assert (await gateway.get(path)).status_code == 401
    refused = await customer.get(path)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/admin/console/events", {"after": "-1"}),
        ("/v1/admin/console/events", {"wait_s": "31"}),
        ("/v1/admin/console/events", {"limit": "0"}),
        ("/v1/admin/console/events", {"topic": ""}),
        ("/v1/admin/console/flows/a%20b%20c%20d", {}),
        ("/v1/admin/console/flows/abc", {}),
    ],
    ids=["negative after", "wait too long", "no limit", "empty filter", "space in id", "id too short"],
)
async def test_bad_console_queries_are_problems(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], path: str, params: dict[str, str]
) -> None:
    r = await gateway.get(path, params=params, headers=operator_headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_transfer_shows_in_the_feed_with_its_customer_and_trace(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, payee = await register_and_login(gateway), await register_and_login(gateway)
    start = (await gateway.get("/v1/admin/console/events", headers=operator_headers)).json()["last_seq"]
    payment_id = await transfer(payer, payee)

    async def completed() -> list[dict] | None:
        r = await gateway.get(
            "/v1/admin/console/events",
            params={"after": start, "customer": payer.customer_id, "wait_s": 5},
            headers=operator_headers,
        )
        assert r.status_code == 200, r.text
        events = [e for e in r.json()["events"] if e["key"] == payment_id]
        return events if any(e["type"] == "payments.PaymentCompleted" for e in events) else None

    events = await eventually(completed, timeout_s=20, every_s=0.1)
    assert {e["topic"] for e in events} == {"payments.events"}
    assert all(e["customer_id"] == payer.customer_id for e in events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["trace_id"] for e in events}) == 1 and events[0]["trace_id"], "one request, one trace"
    by_type = await gateway.get(
        "/v1/admin/console/events",
        params={"after": start, "type": "payments.PaymentCompleted", "correlation": events[0]["correlation_id"]},
        headers=operator_headers,
    )
    assert [e["key"] for e in by_type.json()["events"]] == [payment_id]


async def test_a_long_poll_waits_for_the_next_message_and_no_longer(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, payee = await register_and_login(gateway), await register_and_login(gateway)
    last = (await gateway.get("/v1/admin/console/events", headers=operator_headers)).json()["last_seq"]
    began = time.monotonic()
    quiet = await gateway.get(
        "/v1/admin/console/events",
        params={"after": last, "wait_s": 1, "customer": str(uuid.uuid4())},
        headers=operator_headers,
    )
    assert quiet.json()["events"] == []
    assert 0.9 <= time.monotonic() - began < 5
    waiting = asyncio.create_task(
        gateway.get(
            "/v1/admin/console/events",
            params={"after": last, "wait_s": 25, "customer": payer.customer_id},
            headers=operator_headers,
            timeout=30,
        )
    )
    await asyncio.sleep(0.3)
    assert not waiting.done(), "nothing of this customer's yet: the poll waits"
    began = time.monotonic()
    await transfer(payer, payee)
    woken = await waiting
    assert woken.status_code == 200
    assert woken.json()["events"] and woken.json()["events"][0]["customer_id"] == payer.customer_id
    assert time.monotonic() - began < 10


async def test_a_payments_flow_holds_every_hop_in_order(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, payee = await register_and_login(gateway), await register_and_login(gateway)
    payment_id = await transfer(payer, payee)

    async def ended() -> dict | None:
        r = await gateway.get(f"/v1/admin/console/flows/{payment_id}", headers=operator_headers)
        assert r.status_code in (200, 404), r.text
        flow = r.json() if r.status_code == 200 else None
        consumed_by_gateway = flow and any(h["kind"] == "consume" and h["target"] == "gateway" for h in flow["hops"])
        return flow if flow and flow["outcome"] and consumed_by_gateway else None

    flow = await eventually(ended, timeout_s=20, every_s=0.2)
    assert flow["outcome"] == "completed"
    hops = [(h["source"], h["target"], h["kind"]) for h in flow["hops"]]
    assert hops[0] == ("phone", "gateway", "http")
    assert ("gateway", "payments", "http") in hops
    assert ("payments", "accounts.commands", "publish") in hops
    assert ("accounts.commands", "accounts", "consume") in hops
    assert ("accounts", "accounts.events", "publish") in hops
    assert ("accounts.events", "payments", "consume") in hops
    assert ("payments", "payments.events", "publish") in hops
    assert ("payments.events", "gateway", "consume") in hops
    # The request comes first, the gateway's notification last of the chain.
    first_consume = hops.index(("accounts.commands", "accounts", "consume"))
    assert hops.index(("gateway", "payments", "http")) < first_consume
    assert any("saga ended" in " ".join(h["notes"]) or "saga" in " ".join(h["notes"]) for h in flow["hops"])
    starts = [h["start_ms"] for h in flow["hops"]]
    assert starts == sorted(starts) and starts[0] == 0
    assert flow["lifelines"][:2] == ["phone", "gateway"]
    assert {s["service"] for s in flow["spans"]} >= {"gateway", "payments", "accounts"}
    assert len({s["span_id"] for s in flow["spans"]}) == len(flow["spans"])


async def test_an_id_no_trace_names_is_not_found(gateway: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    r = await gateway.get(f"/v1/admin/console/flows/{uuid.uuid4()}", headers=operator_headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_console_does_not_find_its_own_reads(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    """Looking a flow up leaves no span that names the id: a second look finds nothing new."""
    missing = str(uuid.uuid4())
    for _ in range(2):
        r = await gateway.get(f"/v1/admin/console/flows/{missing}", headers=operator_headers)
        assert r.status_code == 404


async def test_the_system_view_shows_every_process_ready_and_the_topics(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    r = await gateway.get("/v1/admin/console/system", headers=operator_headers)
    assert r.status_code == 200, r.text
    view = r.json()
    processes = {p["name"]: p for p in view["processes"]}
    assert set(processes) == {"gateway", "accounts", "payments", "securities", "insurance"}
    assert all(p["ready"] for p in processes.values()), processes
    assert "gateway-notifications" in processes["gateway"]["consumer_lag"]
    assert view["feed_running"]
    topics = {t["name"]: t for t in view["topics"]}
    assert topics["payments.events"]["owner"] == "payments"
    assert "gateway" in topics["payments.events"]["readers"]
    assert "accounts" in topics["accounts.commands"]["readers"]
    assert topics["accounts.commands"]["rate_per_s"] is None
    assert topics["payments.events"]["rate_per_s"] >= 0


async def test_the_saga_summary_counts_a_finished_transfer(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    async def completed_transfers() -> int:
        r = await gateway.get("/v1/admin/console/sagas", headers=operator_headers)
        assert r.status_code == 200, r.text
        summary = r.json()
        assert summary["unavailable"] == []
        payments = next(s for s in summary["services"] if s["service"] == "payments")
        assert payments["total"] == sum(c["count"] for c in payments["counts"])
        return sum(c["count"] for c in payments["counts"] if c["status"] == "completed")

    before = await completed_transfers()
    payer, payee = await register_and_login(gateway), await register_and_login(gateway)
    payment_id = await transfer(payer, payee)

    async def counted() -> bool:
        return await completed_transfers() >= before + 2  # the deposit and the transfer

    assert await eventually(counted, timeout_s=20, every_s=0.2), payment_id


async def test_a_dropped_replys_flow_holds_the_request_and_the_sagas_retry(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, payee = await register_and_login(gateway), await register_and_login(gateway)
    source, target = await payer.open_account(), await payee.open_account()
    await payer.settled((await payer.deposit(source["id"], "20.00"))["id"])
    r = await gateway.post(
        "/v1/sandbox/faults",
        json={"service": "accounts", "mode": "drop", "duration_s": 2},
        headers=operator_headers,
    )
    assert r.status_code == 200, r.text
    try:
        r = await payer.post(
            "/v1/payments/transfers",
            json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "2.00"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 202, r.text
        payment_id = r.json()["id"]

        async def recovered() -> dict | None:
            answer = await gateway.get(f"/v1/admin/console/flows/{payment_id}", headers=operator_headers)
            flow = answer.json() if answer.status_code == 200 else None
            return flow if flow and flow["outcome"] else None

        flow = await eventually(recovered, timeout_s=45, every_s=0.5)
    finally:
        await gateway.post("/v1/sandbox/faults", json={"service": "accounts", "mode": "none"}, headers=operator_headers)
    assert flow["outcome"] == "completed"
    assert len(flow["trace_ids"]) >= 2, "the request's trace and the sweeper's"
    assert flow["hops"][0]["source"] == "phone"
    notes = [n for h in flow["hops"] for n in h["notes"]]
    assert any(n.startswith("saga retry") for n in notes), notes
    retry = next(h for h in flow["hops"] if any(n.startswith("saga retry") for n in h["notes"]))
    assert (retry["source"], retry["target"], retry["kind"]) == ("payments", "payments", "internal")
