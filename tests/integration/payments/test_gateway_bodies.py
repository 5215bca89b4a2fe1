"""A transfer's body through the gateway, the phone's one entry point, to payments behind it:
one the bank cannot read unambiguously (a name twice, not JSON by its Content-Type, not
UTF-8) is refused as problem+json and starts no payment, at the gateway and at payments
alike; the plain JSON transfer is accepted as ever."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gateway import main, store
from gateway.bootstrap import Overrides
from gateway.routing.upstream import UpstreamResponse, Upstreams
from gateway.settings import Settings
from shared.auth import ROLE_CUSTOMER
from shared.keys import GATEWAY
from shared.settings import DbSettings, ServiceUrls
from tests.integration.payments.harness import Payer, Payments
from tests.tokens import issuer

pytestmark = pytest.mark.broker

PROBLEM_JSON = "application/problem+json"


class ToPayments(Upstreams):
    """The gateway's calls to its services, answered by the payments app in this process."""

    def __init__(self, payments: Payments) -> None:
        super().__init__(ServiceUrls(), issuer(GATEWAY))
        self.http = payments.http

    async def _request(
        self, service: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None, params: Any
    ) -> UpstreamResponse:
        assert service == "payments", service
        r = await self.http.request(method, path, headers=headers, content=body, params=params)
        kept = ("content-type", "retry-after", "location")
        return UpstreamResponse(service, r.status_code, r.content, {k: v for k, v in r.headers.items() if k in kept})


@pytest.fixture(scope="module")
async def gateway(payments: Payments, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    """The gateway in front of payments, on a database of its own."""
    path: Path = tmp_path_factory.mktemp("gateway") / "gateway.db"
    settings = Settings(service="gateway", db=DbSettings(url=f"sqlite+aiosqlite:///{path}"))
    app = main.create_app(settings, overrides=Overrides(upstreams=ToPayments(payments)))
    await app.state.gateway.runtime.db.create_all(store.Base.metadata)
    yield app
    await app.state.gateway.runtime.db.dispose()


async def transfer(gateway: FastAPI, payer: Payer, body: bytes, content_type: str | None) -> httpx.Response:
    """`body` posted to the gateway's transfers by `payer`, logged in with a live session."""
    gw = gateway.state.gateway
    session = f"s-{payer.id}"
    gw.sessions._active[session] = (float("inf"), payer.id)
    token = gw.runtime.tokens.issue(payer.id, [ROLE_CUSTOMER], audience="gateway", session_id=session)
    headers = {"authorization": f"Bearer {token}", "idempotency-key": str(uuid.uuid4())}
    if content_type is not None:
        headers["content-type"] = content_type
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway") as phone:
        return await phone.post("/v1/payments/transfers", content=body, headers=headers)


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = r.json()
    assert problem["type"] == f"https://sandbank.dev/problems/{slug}", problem
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    assert problem["request_id"] == r.headers["x-request-id"]
    return problem


def body_of(payer: Payer, payee: Payer, amount: str = "1.00") -> bytes:
    return orjson.dumps({"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": amount})


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json", id="the lean path's"),
        pytest.param("application/json; charset=utf-8", id="the route's"),
    ],
)
async def test_a_plain_json_transfer_is_accepted(payments: Payments, gateway: FastAPI, content_type: str) -> None:
    payer, payee = await payments.customer(10_00), await payments.customer()

    r = await transfer(gateway, payer, body_of(payer, payee), content_type)

    assert r.status_code == 202, r.text
    assert (await payments.settled(payer, r.json()["id"]))["status"] == "completed"
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(9_00, 0), (1_00, 0)]


def _twice(body: bytes) -> bytes:
    return body[:-1] + b', "amount": "9.00"}'


def _deep(body: bytes) -> bytes:
    return body[:-1] + b', "note": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def _not_utf8(body: bytes) -> bytes:
    return body[:-1] + b', "note": "caf\xe9"}'


@pytest.mark.parametrize(
    ("change", "content_type", "status", "slug", "detail"),
    [
        pytest.param(_twice, "application/json", 400, "malformed-json", '"amount" twice', id="amount twice"),
        pytest.param(lambda b: b, "text/plain", 415, "unsupported-media-type", "text/plain", id="text/plain"),
        pytest.param(lambda b: b, None, 415, "unsupported-media-type", "without a Content-Type", id="no type"),
        pytest.param(_not_utf8, "application/json", 400, "malformed-json", "not UTF-8", id="Latin-1"),
        pytest.param(
            _not_utf8, "application/json; charset=latin-1", 415, "unsupported-media-type", "latin-1", id="charset"
        ),
        pytest.param(
            lambda b: b, "application/merge-patch+json", 415, "unsupported-media-type", "merge-patch", id="+json"
        ),
        pytest.param(_deep, "application/json", 400, "malformed-json", "nests too deeply", id="deep"),
    ],
)
async def test_a_body_the_bank_cannot_read_unambiguously_is_refused_and_pays_nothing(
    payments: Payments, gateway: FastAPI, change: Any, content_type: str | None, status: int, slug: str, detail: str
) -> None:
    payer, payee = await payments.customer(10_00), await payments.customer()
    body = change(body_of(payer, payee, amount="1.00"))

    r = await transfer(gateway, payer, body, content_type)

    assert detail in assert_problem(r, status, slug)["detail"]
    # payments, asked directly (as by a caller that skipped the gateway), refuses it too.
    headers = {**payer.headers, "idempotency-key": str(uuid.uuid4())}
    if content_type is not None:
        headers["content-type"] = content_type
    direct = await payments.http.post("/v1/payments/transfers", content=body, headers=headers)
    assert detail in assert_problem(direct, status, slug)["detail"]
    assert await payments.listed(payer) == []
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(10_00, 0), (0, 0)]
