"""What a banking app expects of the gateway, acted out as a phone would: amounts only in
the shape the OpenAPI documents, one sandbox time in everything a customer reads, and the
hints an app needs (remaining attempts, rate-limit headers, where a replayed answer's
resource lives)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

NEAR_MISSES: list[Any] = ["1E+1", "+1.00", "001.00", "1.", ".5", " 1.00 ", 1.5, 10, "1.00\n", "\u0661"]


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + slug), body
    assert body["detail"]
    return body


async def funded(gateway: httpx.AsyncClient, amount: str = "100.00") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(payer: Phone, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return await payer.post("/v1/payments/transfers", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", NEAR_MISSES, ids=repr)
async def test_a_transfer_with_an_amount_off_the_documented_pattern_is_refused_and_moves_nothing(
    gateway: httpx.AsyncClient, amount: Any
) -> None:
    payer, source = await funded(gateway)
    payee = await register_and_login(gateway)
    target = await payee.open_account("checking")
    r = await transfer(payer, {"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": amount})
    body = assert_problem(r, 422, "invalid-amount")
    assert "amount" in body["detail"]
    assert await payer.balance(source["id"]) == 100_00 and await payee.balance(target["id"]) == 0


@pytest.mark.parametrize("amount", ["1E+1", "001.00", 1.5], ids=repr)
async def test_a_deposit_with_an_amount_off_the_documented_pattern_is_refused(customer: Phone, amount: Any) -> None:
    account = await customer.open_account("checking")
    r = await customer.post(
        "/v1/sandbox/deposits",
        json={"account_id": account["id"], "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert_problem(r, 422, "invalid-amount")


async def test_the_gateway_documents_the_pattern_it_enforces(gateway: httpx.AsyncClient) -> None:
    schemas = (await gateway.get("/openapi.json")).json()["components"]["schemas"]
    amount = schemas["TransferCreate"]["properties"]["amount"]
    assert amount["type"] == "string" and amount["pattern"] == r"^(0|[1-9][0-9]{0,10})(\.[0-9]{1,2})?$"


async def test_a_leading_zero_before_the_point_is_a_valid_amount(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    payee = await register_and_login(gateway)
    target = await payee.open_account("checking")
    r = await transfer(payer, {"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "0.50"})
    assert r.status_code == 202, r.text


# --- one sandbox time ------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_after_the_clock_moves_a_day_a_notification_and_its_payment_agree_on_the_time(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway)
    payee = await register_and_login(gateway)
    target = await payee.open_account("checking")
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400}, headers=operator_headers)
    assert r.status_code == 200, r.text
    clock = await payer.get("/v1/sandbox/clock")
    assert clock.status_code == 200, clock.text
    now = at(clock.json()["now"])

    r = await transfer(payer, {"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "2.00"})
    assert r.status_code == 202, r.text
    payment_id = r.json()["id"]

    async def sent() -> dict[str, Any] | None:
        items = (await payer.get("/v1/notifications")).json()["items"]
        return next((n for n in items if n["data"].get("payment_id") == payment_id), None)

    notification = await eventually(sent)
    payment = (await payer.get(f"/v1/payments/{payment_id}")).json()
    times = [at(notification["event_at"]), at(notification["created_at"]), at(payment["created_at"])]
    times += [at(payment["updated_at"])]
    assert max(times) - min(times) < timedelta(seconds=30), times
    assert abs(times[0] - now) < timedelta(seconds=30), (times, now)


async def test_a_customer_reads_the_sandbox_clock(customer: Phone) -> None:
    r = await customer.get("/v1/sandbox/clock")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["offset_s"] >= 0 and at(body["now"]).tzinfo is not None and body["bank_day"]


async def test_reading_the_clock_needs_a_login(gateway: httpx.AsyncClient) -> None:
    assert_problem(await gateway.get("/v1/sandbox/clock"), 401, "unauthorized")


# --- sessions --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["short", "no-dot-in-this-token", ".secret-without-a-session", "x" * 300])
async def test_a_malformed_refresh_token_is_refused_as_an_unknown_one_is(
    gateway: httpx.AsyncClient, token: str
) -> None:
    malformed = await gateway.post("/v1/auth/refresh", json={"refresh_token": token})
    unknown = await gateway.post("/v1/auth/refresh", json={"refresh_token": f"{uuid.uuid4()}.{'s' * 43}"})
    assert_problem(malformed, 401, "invalid-refresh-token")
    assert_problem(unknown, 401, "invalid-refresh-token")


async def test_each_wrong_password_says_how_many_are_left_before_the_lock(gateway: httpx.AsyncClient) -> None:
    phone = await register_and_login(gateway)
    left = []
    for _ in range(5):
        r = await gateway.post("/v1/auth/login", json={"phone": phone.phone, "password": "wrong-password"})
        left.append(assert_problem(r, 401, "invalid-credentials")["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    assert "locked" in r.json()["detail"]
    locked = await gateway.post("/v1/auth/login", json={"phone": phone.phone, "password": phone.password})
    assert_problem(locked, 429, "login-locked")


# --- what an app reads from the answers ------------------------------------------------------


async def test_a_customers_answers_carry_the_ratelimit_headers(customer: Phone) -> None:
    first = await customer.get("/v1/accounts")
    second = await customer.get("/v1/accounts")
    for r in (first, second):
        assert r.status_code == 200, r.text
        assert int(r.headers["ratelimit-limit"]) >= int(r.headers["ratelimit-remaining"]) >= 0
        assert int(r.headers["ratelimit-reset"]) >= 0
    assert int(second.headers["ratelimit-remaining"]) <= int(first.headers["ratelimit-remaining"])


async def test_a_replayed_key_answers_the_first_answer_and_where_the_payment_is_now(
    gateway: httpx.AsyncClient,
) -> None:
    payer, source = await funded(gateway)
    payee = await register_and_login(gateway)
    target = await payee.open_account("checking")
    body = {"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "3.00"}
    key = str(uuid.uuid4())
    first = await transfer(payer, body, key)
    assert first.status_code == 202, first.text
    payment_id = first.json()["id"]

    async def completed() -> dict[str, Any] | None:
        payment: dict[str, Any] = (await payer.get(f"/v1/payments/{payment_id}")).json()
        return payment if payment["status"] == "completed" else None

    await eventually(completed)
    again = await transfer(payer, body, key)
    assert (again.status_code, again.json()) == (202, first.json())  # the stored answer, as it was
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == f"/v1/payments/{payment_id}"
    now = await payer.get(again.headers["location"])
    assert now.json()["status"] == "completed"


async def test_a_transfer_into_another_customers_securities_cash_is_refused(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    other = await register_and_login(gateway)
    theirs = await other.open_account("securities_cash")
    r = await transfer(payer, {"payer_account_id": source["id"], "payee_account_id": theirs["id"], "amount": "1.00"})
    assert_problem(r, 422, "account-cannot-be-paid")
    assert await payer.balance(source["id"]) == 100_00 and await other.balance(theirs["id"]) == 0
