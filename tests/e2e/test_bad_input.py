"""Bad input gets a clear problem+json and changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from tests.e2e.phone import Phone, new_phone_number, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug), body
    assert body["status"] == status and body["detail"]
    assert "Traceback" not in r.text
    return body


@pytest.mark.parametrize(
    ("amount", "currency", "slug"),
    [
        ("0", "CNY", "invalid-amount"),
        ("0.00", "CNY", "invalid-amount"),
        ("-5.00", "CNY", "invalid-amount"),
        ("1.001", "CNY", "invalid-amount"),
        ("100000000000.00", "CNY", "invalid-amount"),
        ("abc", "CNY", "invalid-amount"),
        ("NaN", "CNY", "invalid-amount"),
        ("10.00", "USD", "unsupported-currency"),
    ],
)
async def test_deposit_with_a_bad_amount_is_refused(customer: Phone, amount: str, currency: str, slug: str) -> None:
    account = await customer.open_account()
    r = await customer.post(
        "/v1/sandbox/deposits",
        json={"account_id": account["id"], "amount": amount, "currency": currency},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert_problem(r, 422, slug)
    assert await customer.balance(account["id"]) == 0


async def test_malformed_json_is_a_400(customer: Phone) -> None:
    r = await customer.post(
        "/v1/sandbox/deposits", content=b'{"account_id": ', headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "malformed-json")


async def test_oversized_body_is_a_413(customer: Phone) -> None:
    r = await customer.post(
        "/v1/accounts", content=b"{" + b" " * 200_000 + b"}", headers={"content-type": "application/json"}
    )
    body = assert_problem(r, 413, "payload-too-large")
    # Shaped as every other problem: the request id a report quotes, and the path.
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["instance"] == "/v1/accounts"


async def test_another_customers_account_looks_missing(gateway: httpx.AsyncClient, customer: Phone) -> None:
    other = await register_and_login(gateway, name="Someone Else")
    theirs = await other.open_account()
    for path in (f"/v1/accounts/{theirs['id']}", f"/v1/accounts/{theirs['id']}/transactions"):
        assert_problem(await customer.get(path), 404, "not-found")
    r = await customer.post(
        "/v1/sandbox/deposits",
        json={"account_id": theirs["id"], "amount": "5.00"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert_problem(r, 404, "not-found")
    assert await other.balance(theirs["id"]) == 0


async def test_unknown_account_is_a_404(customer: Phone) -> None:
    assert_problem(await customer.get(f"/v1/accounts/{uuid.uuid4()}"), 404, "not-found")


async def test_unknown_account_kind_is_a_422(customer: Phone) -> None:
    assert_problem(await customer.post("/v1/accounts", json={"kind": "crypto"}), 422, "validation-error")


async def test_registering_a_taken_phone_answers_as_a_wrong_code(gateway: httpx.AsyncClient, customer: Phone) -> None:
    assert (await gateway.post("/v1/auth/registrations", json={"phone": customer.phone})).status_code == 202
    body = {"phone": customer.phone, "code": "123456", "password": "another-password", "name": "X"}
    assert_problem(await gateway.post("/v1/auth/register", json=body), 400, "registration-code-invalid")


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "12345", "code": "123456", "password": "long-enough-pw", "name": "A"},
        {"phone": new_phone_number(), "code": "12345", "password": "long-enough-pw", "name": "A"},
        {"phone": new_phone_number(), "password": "long-enough-pw", "name": "A"},
        {"phone": new_phone_number(), "code": "123456", "password": "", "name": "A"},
        {"phone": new_phone_number(), "code": "123456", "password": "long-enough-pw", "name": "   "},
        {"phone": new_phone_number(), "code": "123456", "password": "long-enough-pw"},
    ],
)
async def test_registration_with_bad_fields_is_a_422(gateway: httpx.AsyncClient, body: dict) -> None:
    assert_problem(await gateway.post("/v1/auth/register", json=body), 422, "validation-error")


async def test_a_registration_with_a_short_password_says_the_rule(gateway: httpx.AsyncClient) -> None:
    body = {"phone": new_phone_number(), "code": "123456", "password": "short", "name": "A"}
    problem = assert_problem(await gateway.post("/v1/auth/register", json=body), 422, "weak-password")
    assert problem["rule"] == "min_length" and "at least 10 characters" in problem["detail"]


async def test_bad_credentials_do_not_say_which_part_was_wrong(gateway: httpx.AsyncClient, customer: Phone) -> None:
    wrong_password = await gateway.post("/v1/auth/login", json={"phone": customer.phone, "password": "nope-nope"})
    wrong_phone = await gateway.post(
        "/v1/auth/login", json={"phone": new_phone_number(), "password": customer.password}
    )
    a = assert_problem(wrong_password, 401, "invalid-credentials")
    b = assert_problem(wrong_phone, 401, "invalid-credentials")
    assert a["detail"] == b["detail"]


async def test_requests_without_a_token_are_401(gateway: httpx.AsyncClient) -> None:
    assert_problem(await gateway.get("/v1/accounts"), 401, "unauthorized")
    assert_problem(
        await gateway.get("/v1/accounts", headers={"authorization": "Bearer not-a-jwt"}), 401, "unauthorized"
    )


async def test_ledger_check_is_for_operators_only(customer: Phone) -> None:
    assert_problem(await customer.get("/v1/admin/ledger/check"), 403, "forbidden")


async def test_money_moving_post_without_idempotency_key_still_works_but_key_must_be_sane(customer: Phone) -> None:
    account = await customer.open_account()
    r = await customer.post(
        "/v1/sandbox/deposits",
        json={"account_id": account["id"], "amount": "1.00"},
        headers={"Idempotency-Key": "x" * 300},
    )
    assert_problem(r, 400, "idempotency-key-invalid")


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Probe: a\x01b\r\n\r\n", id="control character in a header"),
        pytest.param(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n", id="header without a colon"),
        pytest.param(b"GET /v1/ me HTTP/1.1\r\nHost: x\r\n\r\n", id="space in the target"),
        pytest.param(
            b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad chunk size"
        ),
    ],
)
async def test_a_request_that_is_not_http_gets_a_problem_too(gateway: httpx.AsyncClient, request_bytes: bytes) -> None:
    """What the HTTP parser itself refuses, before any route: a 400 in problem+json as every
    other refusal, and the connection closed."""
    url = httpx.URL(str(gateway.base_url))
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request_bytes)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)  # until the server closes
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json" and headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem["type"].endswith("/malformed-request") and problem["status"] == 400 and problem["detail"]
    assert len(problem["request_id"]) == 32 and headers["x-request-id"] == problem["request_id"]
