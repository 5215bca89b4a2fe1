"""Abuse limits: token buckets per client IP and per customer answer 429 with Retry-After
(on a second gateway started in this process with low limits, so the stack's own gateway
keeps its generous ones), and no endpoint lets a customer list or count other customers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.settings import GatewaySettings
from tests.e2e.phone import eventually, register_and_login
from tests.e2e.test_stepup import own_gateway
from tools.stack import Stack

pytestmark = pytest.mark.e2e

LIMITS = GatewaySettings(rate_ip_per_s=2, rate_ip_burst=20, rate_customer_per_s=1, rate_customer_burst=5)


@pytest.fixture(scope="module")
async def limited(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    data_dir: Path = tmp_path_factory.mktemp("limited-gateway")
    async with own_gateway(stack, data_dir, gateway=LIMITS) as (app, _client):
        yield app


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=20)


def assert_429(r: httpx.Response, detail: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/rate-limited") and detail in r.json()["detail"]
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-request-id"]


async def test_one_address_is_held_to_its_rate_and_others_are_not(limited: FastAPI) -> None:
    async with client_from(limited, "203.0.113.7") as noisy, client_from(limited, "203.0.113.8") as quiet:
        answers = [await noisy.get("/v1/accounts") for _ in range(30)]
        assert [a.status_code for a in answers[:20]] == [401] * 20  # inside the burst: on to authentication
        refused = [a for a in answers[20:] if a.status_code == 429]
        assert refused, [a.status_code for a in answers]
        assert_429(refused[0], "address")
        assert (await quiet.get("/v1/accounts")).status_code == 401
        assert (await noisy.get("/healthz")).status_code == 200  # probes are not limited


async def test_one_customer_is_held_to_their_rate_and_others_are_not(limited: FastAPI) -> None:
    async with client_from(limited, "203.0.113.20") as one, client_from(limited, "203.0.113.21") as two:
        busy, calm = await register_and_login(one), await register_and_login(two)
        answers = [await busy.get("/v1/notifications") for _ in range(10)]
        assert [a.status_code for a in answers[:5]] == [200] * 5
        refused = [a for a in answers[5:] if a.status_code == 429]
        assert refused, [a.status_code for a in answers]
        assert_429(refused[0], "customer")
        assert (await calm.get("/v1/notifications")).status_code == 200


# --- nothing lists or counts other customers -----------------------------------------------------

STREAMS = re.compile(r"/stream$")


async def test_no_endpoint_shows_a_customer_anything_of_another(gateway: httpx.AsyncClient) -> None:
    """Every GET without path parameters (operators' and internal ones included: they
    refuse), called by one customer while another has accounts, payments and
    notifications: none of the other's ids or phone number appear."""
    other = await register_and_login(gateway, name=f"Other {uuid.uuid4().hex[:8]}")
    account = await other.open_account("checking")
    await other.settled((await other.deposit(account["id"], "100.00"))["id"])
    me = await register_and_login(gateway)
    mine = await me.open_account("checking")
    await me.settled((await me.deposit(mine["id"], "100.00"))["id"])
    r = await other.post(
        "/v1/payments/transfers",
        json={"payer_account_id": account["id"], "payee_account_id": mine["id"], "amount": "1.00"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text

    async def received() -> bool:
        items = (await me.get("/v1/notifications")).json()["items"]
        return any(i["kind"] == "payment_received" for i in items)

    await eventually(received)
    secrets = {other.customer_id, other.phone, other.tokens["session_id"], account["id"]}

    paths = (await gateway.get("/openapi.json")).json()["paths"]
    checked = []
    for path, operations in sorted(paths.items()):
        if "get" not in operations or "{" in path or STREAMS.search(path):
            continue
        answer = await me.get(path)
        assert answer.status_code < 500, (path, answer.text)
        leaked = [s for s in secrets if s in answer.text]
        assert not leaked, (path, leaked)
        checked.append(path)
    assert {"/v1/home", "/v1/notifications", "/v1/accounts", "/v1/payments", "/v1/me/sessions"} <= set(checked)
