"""The pass-through table: every row is in the public OpenAPI document as declared (path,
method, body and response models, status, description, tags, problems, parameters), the
services' /internal routes are not, and a request goes to the row's service and path with
the caller's token, through fake upstreams brought in by `Overrides`."""

from __future__ import annotations

import inspect
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway import store
from gateway.main import create_app
from gateway.ops.api import ROUTES as OPS_ROUTES
from gateway.routing.routes import PassThrough
from gateway.routing.table import ROUTES
from gateway.routing.upstream import UpstreamResponse
from shared.auth import ROLE_CUSTOMER, ROLE_OPERATOR
from shared.errors import ServiceUnavailable
from shared.schemas.payments import TransferCreate
from tests.tokens import issuer
from tests.unit.gateway.fakes import FakeUpstreams, logged_in

ALL = ROUTES + OPS_ROUTES
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _id(route: PassThrough) -> str:
    return f"{route.method} {route.path}"


def test_each_route_is_declared_once() -> None:
    assert len({_id(r) for r in ALL}) == len(ALL)


@pytest.mark.parametrize("route", ALL, ids=_id)
def test_every_row_is_in_the_public_document_as_declared(document: dict[str, Any], route: PassThrough) -> None:
    operation = document["paths"][route.path][route.method.lower()]

    # The route's name: what a generated client calls the method (`create_transfer`).
    assert operation["operationId"] == route.name
    assert operation.get("description", "") == inspect.cleandoc(route.doc)
    assert operation["tags"] == list(route.tags)
    body = operation.get("requestBody")
    if route.upload is not None:
        assert body == route.upload["requestBody"]
    elif route.body is None:
        assert body is None
    else:
        assert body["content"]["application/json"]["schema"] == {"$ref": REF + route.body.__name__}
    answer = operation["responses"][str(route.status)]
    if route.file:
        assert all(media["schema"] == {"type": "string", "format": "binary"} for media in answer["content"].values())
    if route.response is not None:
        assert answer["content"]["application/json"]["schema"] == {"$ref": REF + route.response.__name__}
    assert {str(s) for s in route.problems} <= set(operation["responses"])
    parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
    key = {("header", "Idempotency-Key")} if route.idempotent else set()
    key |= {("header", "If-None-Match")} if route.revalidate else set()
    assert parameters == {("path", n) for n in route.path_params} | {("query", n) for n in route.query} | key
    if route.revalidate:
        assert set(operation["responses"]["304"]["headers"]) == set(answer["headers"]) == {"ETag", "Cache-Control"}


def test_the_services_internal_routes_are_not_public(document: dict[str, Any]) -> None:
    assert [p for p in document["paths"] if p.startswith("/internal")] == []
    assert "ClockState" not in document["components"]["schemas"]


async def test_a_query_goes_to_its_service_with_the_callers_token_and_parameters(
    app: FastAPI, upstreams: FakeUpstreams
) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get("/v1/accounts/a-1/transactions", params={"limit": 5})

    assert r.status_code == 200, r.text
    [asked] = upstreams.asked
    assert (asked["service"], asked["method"], asked["path"]) == ("accounts", "GET", "/v1/accounts/a-1/transactions")
    # The gateway's word to accounts, for this hop: never the phone's own token.
    hop = issuer("accounts").verify(asked["headers"]["authorization"].removeprefix("Bearer "))
    assert (hop.subject, hop.issuer, hop.session_id) == ("c-1", "gateway", "s-1")
    assert asked["params"] == [("limit", "5")]


async def test_a_row_can_name_another_path_at_the_service(app: FastAPI, upstreams: FakeUpstreams) -> None:
    async with logged_in(app, ROLE_OPERATOR) as client:
        r = await client.post("/v1/market/sandbox/600519/price", json={"price": "1500.00"})

    assert r.status_code == 200, r.text
    assert upstreams.asked[0]["path"] == "/internal/market/600519/price"


async def test_a_public_row_needs_no_login_and_sends_no_token(app: FastAPI, upstreams: FakeUpstreams) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        r = await client.get("/v1/insurance/products")

    assert r.status_code == 200, r.text
    assert "authorization" not in upstreams.asked[0]["headers"]


@pytest.mark.parametrize(
    ("roles", "path", "status"),
    [((ROLE_OPERATOR,), "/v1/accounts", 403), ((ROLE_CUSTOMER,), "/v1/admin/ledger/check", 403)],
)
async def test_a_row_is_only_for_its_role(
    app: FastAPI, upstreams: FakeUpstreams, roles: tuple[str, ...], path: str, status: int
) -> None:
    async with logged_in(app, *roles) as client:
        r = await client.get(path)

    assert r.status_code == status and r.json()["type"].endswith("/forbidden")
    assert upstreams.asked == []


async def test_a_payment_without_an_idempotency_key_is_refused_before_it_goes_anywhere(
    app: FastAPI, upstreams: FakeUpstreams
) -> None:
    body = TransferCreate.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.post("/v1/payments/transfers", json=body)

    assert r.status_code == 400 and r.json()["type"].endswith("/idempotency-key-missing")
    assert upstreams.asked == []


async def test_a_service_that_does_not_answer_is_a_503_to_retry(app: FastAPI, upstreams: FakeUpstreams) -> None:
    upstreams.answer = ServiceUnavailable("accounts")
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get("/v1/accounts")

    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/service-unavailable")
    assert r.json()["detail"] == "the accounts service is not answering; try again shortly"


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/v1/insurance/claims/%3F", "/v1/insurance/claims/%3F"),
        ("/v1/insurance/claims/%23top", "/v1/insurance/claims/%23top"),
        ("/v1/insurance/claims/a%20b%3Bc", "/v1/insurance/claims/a%20b%3Bc"),
        ("/v1/insurance/claims/%252E%252E", "/v1/insurance/claims/%252E%252E"),
        ("/v1/insurance/claims/..x", "/v1/insurance/claims/..x"),
        ("/v1/accounts/%C3%A9/transactions", "/v1/accounts/%C3%A9/transactions"),
    ],
)
async def test_a_path_parameter_reaches_the_service_encoded_in_its_own_segment(
    app: FastAPI, upstreams: FakeUpstreams, path: str, upstream: str
) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path)

    assert r.status_code == 200, r.text
    assert upstreams.asked[0]["path"] == upstream


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/insurance/claims/%2E%2E"),
        ("GET", "/v1/insurance/claims/%2E"),
        ("GET", "/v1/accounts/%2e%2e/transactions"),
        ("POST", "/v1/insurance/claims/%2E%2E/submit"),
        ("GET", "/v1/sandbox/deposits/%2E%2E"),
    ],
)
async def test_a_dot_segment_as_a_path_parameter_is_a_404_that_goes_nowhere(
    app: FastAPI, upstreams: FakeUpstreams, method: str, path: str
) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.request(method, path)

    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/not-found")
    assert upstreams.asked == []


def test_a_stream_row_needs_a_caller_to_count_its_streams_against() -> None:
    with pytest.raises(ValueError, match="stream"):
        PassThrough("GET", "/v1/x/stream", service="securities", name="x", response=None, who="anyone", stream=True)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/payments", {"status": "failed", "kind": "bill", "from": "2026-11-01", "to": "2026-11-30"}),
        ("/v1/accounts/a-1/transactions", {"kind": "deposit", "from": "2026-11-01", "to": "2026-11-30"}),
    ],
)
async def test_a_lists_filters_reach_its_service_as_the_phone_sent_them(
    app: FastAPI, upstreams: FakeUpstreams, path: str, params: dict[str, str]
) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path, params=params)

    assert r.status_code == 200, r.text
    assert dict(upstreams.asked[0]["params"]) == params


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/payments", {"status": "lost"}),
        ("/v1/payments", {"kind": "cheque"}),
        ("/v1/payments", {"from": "2026-13-01"}),
        ("/v1/payments", {"to": "yesterday"}),
        ("/v1/accounts/a-1/transactions", {"kind": "salary"}),
        ("/v1/accounts/a-1/transactions", {"from": "2026-11-31"}),
    ],
)
async def test_a_filter_the_list_does_not_know_is_a_422_that_goes_nowhere(
    app: FastAPI, upstreams: FakeUpstreams, path: str, params: dict[str, str]
) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path, params=params)

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/validation-error")
    assert upstreams.asked == []


def test_operation_ids_are_unique_route_names(document: dict[str, Any]) -> None:
    """A generated client names its methods by operation id: one per operation, readable."""
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids


@pytest.mark.parametrize(
    ("roles", "status", "problem"), [((), 401, "unauthorized"), ((ROLE_OPERATOR,), 403, "forbidden")]
)
async def test_a_payment_checks_its_caller_before_its_idempotency_key(
    app: FastAPI, upstreams: FakeUpstreams, roles: tuple[str, ...], status: int, problem: str
) -> None:
    body = TransferCreate.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    client = logged_in(app, *roles) if roles else httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with client:
        r = await client.post("http://gateway/v1/payments/transfers", json=body)

    assert r.status_code == status and r.json()["type"].endswith(f"/{problem}")
    assert upstreams.asked == []


async def test_a_payment_sends_its_idempotency_key_on_with_the_callers_token(
    app: FastAPI, upstreams: FakeUpstreams
) -> None:
    await app.state.gateway.runtime.db.create_all(store.Base.metadata)  # where the answer is kept for replays
    upstreams.answer = UpstreamResponse("payments", 202, b'{"id": "p-1"}', {"content-type": "application/json"})
    body = TransferCreate.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.post("/v1/payments/transfers", json=body, headers={"Idempotency-Key": ' "k-1" '})

    assert r.status_code == 202, r.text
    (asked,) = upstreams.asked
    assert asked["path"] == "/v1/payments/transfers"
    assert asked["headers"]["Idempotency-Key"] == "k-1"
    assert asked["headers"]["authorization"].startswith("Bearer ")
