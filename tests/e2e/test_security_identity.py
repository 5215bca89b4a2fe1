"""What an attacker would try against identity, through a started stack: read a step-up
code with the token it protects, register with a weak password, learn whether a number
banks here, collect account ids by paying phone numbers, and flood the login.

The step-up and limit tests run on gateways started in this process beside the stack (as
tests/e2e/test_stepup.py does): one in sandbox mode with the default login and
registration limits, one in production mode, and one in front of the stack whose payments
asks for one-time codes (`stepup_stack`); each test sends from its own addresses."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.deps import Gateway
from gateway.identity import registration as registration_module
from gateway.identity import stepup as stepup_module
from gateway.settings import GatewaySettings
from shared.auth import ROLE_CUSTOMER
from shared.stepup import Payment
from tests.e2e.phone import eventually, inbox, new_phone_number, register, register_and_login
from tests.e2e.test_rate_limits import client_from
from tests.e2e.test_stepup import STEPUP, challenged, completed, funded, own_gateway, send
from tools.stack import Stack

pytestmark = pytest.mark.e2e

DEFAULT_LIMITS = GatewaySettings()


@pytest.fixture(scope="module")
async def sandbox(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    data_dir = tmp_path_factory.mktemp("security-gateway")
    async with own_gateway(stack, data_dir, auth=STEPUP, gateway=DEFAULT_LIMITS) as (app, _client):
        yield app


@pytest.fixture(scope="module")
async def stepup_sandbox(stepup_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    """A sandbox gateway in front of the stack whose payments asks for one-time codes."""
    data_dir = tmp_path_factory.mktemp("security-stepup-gateway")
    async with own_gateway(stepup_stack, data_dir, auth=STEPUP, gateway=DEFAULT_LIMITS) as (app, _client):
        yield app


def gateway_of(app: FastAPI) -> Gateway:
    gw: Gateway = app.state.gateway
    return gw


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"].endswith(f"/{slug}"), body
    return body


# --- A: a step-up code is not readable with the token it protects --------------------------------


async def test_the_step_up_code_is_not_in_the_notifications(stepup_sandbox: FastAPI) -> None:
    async with client_from(stepup_sandbox, "198.51.100.1") as client:
        payer, source = await funded(client, "100.00")
        _, target = await funded(client, "1.00")
        body = {"payer_account_id": source, "payee_account_id": target, "amount": "6000.00"}
        challenge_id = challenged(await send(payer, body, str(uuid.uuid4())), "amount")["challenge_id"]
        [sms] = [m for m in await inbox(client, payer.phone) if m["kind"] == "step_up_code"]
        code = sms["code"]
        assert code and code in sms["body"]

        # Everything the stolen token reads: the notifications list, the challenge, the user.
        notifications = await payer.get("/v1/notifications")
        notice = next(n for n in notifications.json()["items"] if n["data"].get("challenge_id") == challenge_id)
        assert notice["kind"] == "stepup_code" and "code" not in notice["data"]
        for read in (notifications, await payer.get(f"/v1/auth/challenges/{challenge_id}"), await payer.get("/v1/me")):
            assert code not in read.text


async def test_a_stolen_token_reads_no_other_numbers_messages(sandbox: FastAPI) -> None:
    async with client_from(sandbox, "198.51.100.2") as client:
        victim, thief = await register_and_login(client), await register_and_login(client)
        r = await thief.get("/v1/sandbox/inbox", params={"phone": victim.phone})
        problem(r, 403, "forbidden")
        own = await thief.get("/v1/sandbox/inbox")
        assert own.status_code == 200 and {m["phone"] for m in own.json()["items"]} == {thief.phone}
        assert (await client.get("/v1/sandbox/inbox", params={"phone": victim.phone})).status_code == 401


@pytest.fixture
async def production(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    data_dir = tmp_path_factory.mktemp("production-gateway")
    async with own_gateway(stack, data_dir, environment="production", auth=STEPUP) as (app, _client):
        yield app


async def test_outside_the_sandbox_no_code_is_readable_or_logged(
    production: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    code = "424242"
    monkeypatch.setattr(registration_module, "new_code", lambda: code)
    monkeypatch.setattr(stepup_module, "new_code", lambda: code)
    caplog.set_level(logging.DEBUG)
    gw = gateway_of(production)
    customer_id, phone, password = str(uuid.uuid4()), new_phone_number(), f"pw-{uuid.uuid4().hex}"
    await gw.sessions.add_user(user_id=customer_id, phone=phone, name="Li Na", password=password, roles=[ROLE_CUSTOMER])
    newcomer = new_phone_number()
    async with client_from(production, "198.51.100.3") as client:
        assert (await client.post("/v1/auth/registrations", json={"phone": newcomer})).status_code == 202
        login = await client.post("/v1/auth/login", json={"phone": phone, "password": password})
        assert login.status_code == 200, login.text
        thief = {"authorization": f"Bearer {login.json()['access_token']}"}
        await gw.challenges.challenge(
            customer_id, "key-1", Payment("transfer", "account:x", 600_000, "CNY", "a-1"), "amount"
        )

        assert (await client.get("/v1/sandbox/inbox", headers=thief)).status_code == 404
        notifications = await client.get("/v1/notifications", headers=thief)
        assert notifications.status_code == 200 and notifications.json()["items"]
        assert code not in notifications.text
    assert not await gw.inbox.messages(phone, 10) and not await gw.inbox.messages(newcomer, 10)
    assert code not in caplog.text


# --- B: weak passwords ---------------------------------------------------------------------------------


async def test_weak_passwords_are_refused_naming_the_rule(gateway: httpx.AsyncClient) -> None:
    phone = new_phone_number()
    assert (await gateway.post("/v1/auth/registrations", json={"phone": phone})).status_code == 202
    [sms] = await inbox(gateway, phone)
    weak = {
        "12345678": "min_length",
        "password1234": "common",
        phone: "phone_number",
        phone.removeprefix("+86") + "!!": "phone_number",
        "aaaaaaaaaaaa": "repeated_character",
        "x" * 200 + "y": "max_length",
    }
    for password, rule in weak.items():
        body = {"phone": phone, "code": sms["code"], "password": password, "name": "Weak Pw"}
        refused = problem(await gateway.post("/v1/auth/register", json=body), 422, "weak-password")
        assert refused["rule"] == rule, (password, refused)
    # The code was not spent on them: a good password registers with it.
    body = {"phone": phone, "code": sms["code"], "password": "a much better passphrase", "name": "Good Pw"}
    assert (await gateway.post("/v1/auth/register", json=body)).status_code == 201


# --- C: registration proves the phone and tells nothing about who banks here -------------------------


async def test_registering_a_taken_number_looks_exactly_like_registering_a_free_one(sandbox: FastAPI) -> None:
    async with client_from(sandbox, "198.51.100.4") as client:
        taken, free = (await register_and_login(client)).phone, new_phone_number()
        started = {p: await client.post("/v1/auth/registrations", json={"phone": p}) for p in (taken, free)}
        assert {r.status_code for r in started.values()} == {202}
        shapes = [{k: v for k, v in r.json().items() if k not in ("phone", "expires_at")} for r in started.values()]
        assert shapes[0] == shapes[1]
        assert [set(r.json()) for r in started.values()] == [set(started[free].json())] * 2

        guessed = {
            p: await client.post(
                "/v1/auth/register", json={"phone": p, "code": "000000", "password": "a fine passphrase", "name": "X"}
            )
            for p in (taken, free)
        }
        per_request = ("instance", "request_id")
        answers = [
            {k: v for k, v in problem(r, 400, "registration-code-invalid").items() if k not in per_request}
            for r in guessed.values()
        ]
        assert answers[0] == answers[1]
        assert guessed[taken].headers.keys() == guessed[free].headers.keys()
        # Only the owner of the number learns it is taken, by SMS, and gets no code.
        note = (await inbox(client, taken))[0]
        assert note["kind"] == "registration_code" and note["code"] is None
        assert "already has an account" in note["body"]


async def test_registration_needs_the_code_sent_to_the_number(sandbox: FastAPI) -> None:
    async with client_from(sandbox, "198.51.100.5") as client:
        phone = new_phone_number()
        body = {"phone": phone, "password": "a fine passphrase", "name": "Squatter"}
        problem(
            await client.post("/v1/auth/register", json={**body, "code": "123456"}), 400, "registration-code-invalid"
        )
        assert (await client.post("/v1/auth/registrations", json={"phone": phone})).status_code == 202
        [sms] = await inbox(client, phone)
        wrong = f"{(int(sms['code']) + 1) % 10**6:06d}"
        for _ in range(5):  # five wrong tries lock the code, the right one included
            problem(
                await client.post("/v1/auth/register", json={**body, "code": wrong}), 400, "registration-code-invalid"
            )
        problem(
            await client.post("/v1/auth/register", json={**body, "code": sms["code"]}), 400, "registration-code-invalid"
        )
        r = await register(client, phone, "a fine passphrase", "Owner")  # a new code works
        assert r.status_code == 201, r.text
        spent = await client.post("/v1/auth/register", json={**body, "code": sms["code"]})
        problem(spent, 400, "registration-code-invalid")


# --- D: paying a phone number does not reveal the payee's account -----------------------------------


async def test_a_transfer_by_phone_shows_the_payer_no_account_or_customer_id(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway, "100.00")
    payee = await register_and_login(gateway, name="王芳")
    target = (await payee.open_account("checking"))["id"]
    body = {"payer_account_id": source, "payee_phone": payee.phone, "amount": "8.80"}
    started = await send(payer, body, str(uuid.uuid4()))
    assert started.status_code == 202, started.text
    done = await completed(payer, started.json()["id"])
    assert done["payee"] == {"kind": "account", "label": "*芳", "account_id": None, "reference": payee.phone}

    async def sent_notice() -> bool:
        items = (await payer.get("/v1/notifications")).json()["items"]
        return any(n["kind"] == "payment_sent" for n in items)

    await eventually(sent_notice)
    for path in ("/v1/payments", f"/v1/payments/{done['id']}", "/v1/notifications", "/v1/home"):
        seen = await payer.get(path)
        assert seen.status_code == 200, (path, seen.text)
        assert target not in seen.text and payee.customer_id not in seen.text, path
    assert target not in started.text and payee.customer_id not in started.text


# --- E: floods of logins and registrations --------------------------------------------------------------


async def test_a_flood_of_wrong_logins_from_one_address_is_refused_while_another_logs_in(sandbox: FastAPI) -> None:
    async with client_from(sandbox, "198.51.100.6") as setup:
        customer = await register_and_login(setup)
    async with client_from(sandbox, "203.0.113.66") as flood, client_from(sandbox, "198.51.100.7") as other:
        answers = await asyncio.gather(
            *(
                flood.post("/v1/auth/login", json={"phone": new_phone_number(), "password": f"guess-{i:04d}-pw"})
                for i in range(60)
            )
        )
        statuses = [a.status_code for a in answers]
        assert 200 not in statuses
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) >= 60 - DEFAULT_LIMITS.rate_login_ip_burst, statuses
        problem(refused[0], 429, "rate-limited")
        assert int(refused[0].headers["retry-after"]) >= 1
        # What got past the limit was checked or answered 503 at once, never queued without end.
        assert set(statuses) <= {401, 429, 503}

        ok = await other.post("/v1/auth/login", json={"phone": customer.phone, "password": customer.password})
        assert ok.status_code == 200, ok.text
        # ... while from the flooding address even the right password waits its turn.
        late = await flood.post("/v1/auth/login", json={"phone": customer.phone, "password": customer.password})
        problem(late, 429, "rate-limited")


async def test_concurrent_guesses_at_one_number_from_many_addresses_are_bounded(sandbox: FastAPI) -> None:
    async with client_from(sandbox, "198.51.100.8") as setup:
        victim = await register_and_login(setup)

    async def guess(i: int) -> httpx.Response:
        async with client_from(sandbox, f"192.0.2.{i + 1}") as client:
            return await client.post("/v1/auth/login", json={"phone": victim.phone, "password": f"guess-{i:04d}-pw"})

    statuses = [a.status_code for a in await asyncio.gather(*(guess(i) for i in range(30)))]
    assert 200 not in statuses
    assert statuses.count(401) <= DEFAULT_LIMITS.rate_login_phone_burst, statuses
    assert statuses.count(429) >= 30 - DEFAULT_LIMITS.rate_login_phone_burst, statuses


async def test_asking_for_registration_codes_is_limited_per_number_and_per_address(sandbox: FastAPI) -> None:
    async with client_from(sandbox, "198.51.100.9") as one, client_from(sandbox, "198.51.100.10") as two:
        phone = new_phone_number()
        asked = [(await c.post("/v1/auth/registrations", json={"phone": phone})).status_code for c in (one, two) * 2]
        assert asked[: DEFAULT_LIMITS.rate_register_phone_burst] == [202] * DEFAULT_LIMITS.rate_register_phone_burst
        problem(await two.post("/v1/auth/registrations", json={"phone": phone}), 429, "rate-limited")

        many = [
            (await two.post("/v1/auth/registrations", json={"phone": new_phone_number()})).status_code
            for _ in range(DEFAULT_LIMITS.rate_register_ip_burst)
        ]
        assert many.count(429) >= 1, many
