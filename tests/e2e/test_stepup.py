"""Step-up authentication for money-moving requests, end to end: the 401 challenge, the
one-time code delivered by SMS (the sandbox inbox), a wrong code, approval, the repeated request
going through, the new-payee rule, expiry by the sandbox clock, the lock, and no code spent
on a payment payments refuses (an unknown payee, over the KYC limit).

Payments decides step-up, so these run on a stack of their own whose payments asks for
codes at the default amounts (`stepup_stack`), behind a second gateway started in this
process (its own database and consumer groups, that stack's services and broker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.bootstrap import Overrides
from gateway.identity.stepup import MAX_CHALLENGES_PER_HOUR
from gateway.main import create_app
from gateway.settings import GatewaySettings, Settings
from shared.clock import Clock
from shared.settings import AuthSettings, DbSettings, KafkaSettings, ServiceUrls
from tests.e2e.conftest import client_of, operator_login
from tests.e2e.phone import Phone, eventually, inbox, register_and_login
from tools.stack import BACKEND_SERVICES, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


@asynccontextmanager
async def own_gateway(
    stack: Stack,
    data_dir: Path,
    *,
    client_ip: str = "127.0.0.1",
    clock: Clock | None = None,
    environment: str = "sandbox",
    **sections: Any,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A gateway app in this process in front of the stack's services, with its own
    settings sections (`auth=AuthSettings(...)`, `gateway=GatewaySettings(...)`) and,
    if given, a sandbox clock the test moves. Login and registration limits are roomy
    unless `gateway=` says otherwise."""
    # The gateway's own name and key (services trust only the gateway's word), in a
    # consumer group of its own.
    suffix = f"-test-{uuid.uuid4().hex[:8]}"
    name = f"gateway{suffix}"
    sections.setdefault("gateway", ROOMY)
    settings = Settings(
        service="gateway",
        environment=environment,
        log_json=False,
        db=DbSettings(url=f"sqlite+aiosqlite:///{data_dir / name}.db"),
        kafka=KafkaSettings(bootstrap_servers=stack.bootstrap_servers),
        urls=ServiceUrls(**{s: stack.url(s) for s in BACKEND_SERVICES}),
        **sections,
    )
    app = create_app(settings, overrides=Overrides(clock=clock, group_suffix=suffix))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=20) as client:
            yield app, client


STEPUP = AuthSettings(stepup_amount_minor=5_000_00, stepup_new_payee_minor=1_000_00)
# Login and registration limits high enough for a module of tests from one address.
ROOMY = GatewaySettings(
    rate_login_ip_burst=100_000,
    rate_login_phone_burst=100_000,
    rate_register_ip_burst=100_000,
    rate_register_phone_burst=100_000,
)


@pytest.fixture(scope="module")
def stack(stepup_stack: Stack) -> Stack:
    """This module's stack: the one whose payments asks for codes (the others' does not)."""
    return stepup_stack


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """That stack's own gateway: the operator's sandbox clock and the ledger check."""
    async with client_of(stack) as client:
        yield client


@pytest.fixture(scope="module")
async def operator_headers(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await operator_login(gateway)


@pytest.fixture(scope="module")
def clock() -> Clock:
    """The sandbox clock of this module's gateway: the stack's clock control does not know
    that gateway, so a test moves it itself."""
    return Clock()


@pytest.fixture(scope="module")
async def gw(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory, clock: Clock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    data_dir = tmp_path_factory.mktemp("stepup-gateway")
    async with own_gateway(stack, data_dir, clock=clock, auth=STEPUP) as pair:
        yield pair


async def funded(client: httpx.AsyncClient, amount: str) -> tuple[Phone, str]:
    phone = await register_and_login(client)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, str(account["id"])


async def send(payer: Phone, body: dict[str, Any], key: str, path: str = "transfers") -> httpx.Response:
    return await payer.post(f"/v1/payments/{path}", json=body, headers={"Idempotency-Key": key})


async def code_for(phone: Phone, challenge_id: str) -> str:
    """The one-time code, read where the sandbox delivers it: the SMS inbox, as the customer."""
    [notice] = [
        n
        for n in (await phone.get("/v1/notifications")).json()["items"]
        if n["kind"] == "stepup_code" and n["data"]["challenge_id"] == challenge_id
    ]
    assert "code" not in notice["data"]  # the notification only says a code was sent
    r = await phone.get("/v1/sandbox/inbox")
    assert r.status_code == 200, r.text
    return str(next(m["code"] for m in r.json()["items"] if m["kind"] == "step_up_code"))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def approve(phone: Phone, challenge_id: str, code: str) -> httpx.Response:
    return await phone.post(f"/v1/auth/challenges/{challenge_id}", json={"code": code})


async def completed(phone: Phone, payment_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = (await phone.get(f"/v1/payments/{payment_id}")).json()
        return body if body["status"] != "pending" else None

    payment: dict[str, Any] = await eventually(done)
    assert payment["status"] == "completed", payment
    return payment


def challenged(r: httpx.Response, reason: str) -> dict[str, Any]:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/step-up-required") and body["reason"] == reason, body
    assert "insufficient_user_authentication" in r.headers["www-authenticate"]
    return body


async def test_a_large_transfer_needs_the_code_then_goes_through_with_the_same_key(
    gw: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = gw
    payer, source = await funded(client, "20000.00")
    payee, target = await funded(client, "1.00")
    body = {"payer_account_id": source, "payee_account_id": target, "amount": "6000.00"}
    # Paid once before, so payments' own new-payee risk rule (above 5,000.00) stays out of it.
    await completed(payer, (await send(payer, {**body, "amount": "10.00"}, str(uuid.uuid4()))).json()["id"])
    key = str(uuid.uuid4())

    first = challenged(await send(payer, body, key), "amount")
    again = challenged(await send(payer, body, key), "amount")
    assert again["challenge_id"] == first["challenge_id"]  # one code per request, not per retry
    challenge_id = first["challenge_id"]
    code = await code_for(payer, challenge_id)
    assert len(code) == 6 and code.isdigit()

    bad = await approve(payer, challenge_id, wrong(code))
    assert bad.status_code == 401 and bad.json()["type"].endswith("/challenge-code-invalid")
    assert bad.json()["attempts_left"] == 4
    stranger = await approve(payee, challenge_id, code)
    assert stranger.status_code == 404
    ok = await approve(payer, challenge_id, code)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["status"], ok.json()["amount"]) == ("approved", "6000.00")

    # The approval is for this amount from this account under this key only.
    other_amount = await send(payer, {**body, "amount": "6000.01"}, str(uuid.uuid4()))
    assert challenged(other_amount, "amount")["challenge_id"] != challenge_id
    savings = (await payer.open_account("savings"))["id"]
    other_payer = await send(payer, {**body, "payer_account_id": savings}, key)
    assert challenged(other_payer, "amount")["challenge_id"] != challenge_id
    accepted = await send(payer, body, key)
    assert accepted.status_code == 202, accepted.text
    replay = await send(payer, body, key)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (202, "true")
    assert (await send(payer, {**body, "amount": "6500.00"}, key)).status_code == 422  # key bound to its body
    await completed(payer, accepted.json()["id"])
    assert await payer.balance(source) == 20000_00 - 10_00 - 6000_00


async def test_small_payments_need_no_code(gw: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = gw
    payer, source = await funded(client, "2000.00")
    _, target = await funded(client, "1.00")
    r = await send(payer, {"payer_account_id": source, "payee_account_id": target, "amount": "1000.00"}, "k1")
    assert r.status_code == 202, r.text
    bill = {"payer_account_id": source, "biller_code": "SH-WATER", "bill_reference": "3100012345", "amount": "60.00"}
    assert (await send(payer, bill, "k2", "bills")).status_code == 202


async def test_a_first_transfer_to_a_new_payee_needs_the_code_above_the_lower_amount(
    gw: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = gw
    payer, source = await funded(client, "9000.00")
    payee, target = await funded(client, "1.00")
    savings = (await payer.open_account("savings"))["id"]
    body = {"payer_account_id": source, "payee_account_id": target, "amount": "1500.00"}
    challenged(await send(payer, body, str(uuid.uuid4())), "new_payee")
    by_phone = {"payer_account_id": source, "payee_phone": payee.phone, "amount": "1500.00"}
    challenged(await send(payer, by_phone, str(uuid.uuid4())), "new_payee")
    # Between one's own accounts there is no new payee.
    own = await send(payer, {**body, "payee_account_id": savings}, str(uuid.uuid4()))
    assert own.status_code == 202, own.text

    # Once a payment to them has completed, they are known (by account and by phone).
    small = await send(payer, {**body, "amount": "10.00"}, str(uuid.uuid4()))
    await completed(payer, small.json()["id"])

    async def let_through() -> httpx.Response | None:
        r = await send(payer, body, str(uuid.uuid4()))
        return r if r.status_code == 202 else None

    await eventually(let_through, timeout_s=10, every_s=0.2)
    assert (await send(payer, by_phone, str(uuid.uuid4()))).status_code == 202
    # ... though not above the general step-up amount.
    challenged(await send(payer, {**body, "amount": "5000.01"}, str(uuid.uuid4())), "amount")


async def test_bills_and_qr_payments_above_the_amount_need_the_code(gw: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = gw
    payer, source = await funded(client, "100.00")
    bill = {"payer_account_id": source, "biller_code": "SG-ELEC", "bill_reference": "1234567890", "amount": "5200.00"}
    challenged(await send(payer, bill, str(uuid.uuid4()), "bills"), "amount")
    qr = {"payer_account_id": source, "qr_payload": "sandbank://qr/v1?m=M100001&a=8000.00"}
    challenged(await send(payer, qr, str(uuid.uuid4()), "qr"), "amount")


async def test_an_expired_code_is_refused_and_the_request_gets_a_new_one(
    gw: tuple[FastAPI, httpx.AsyncClient],
    clock: Clock,
    gateway: httpx.AsyncClient,
    operator_headers: dict[str, str],
) -> None:
    _, client = gw
    payer, source = await funded(client, "100.00")
    _, target = await funded(client, "1.00")
    body = {"payer_account_id": source, "payee_account_id": target, "amount": "7000.00"}
    key = str(uuid.uuid4())
    challenge_id = challenged(await send(payer, body, key), "amount")["challenge_id"]
    code = await code_for(payer, challenge_id)

    # The operator moves the sandbox clock (every process of the stack) 5 minutes on.
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 301}, headers=operator_headers)
    assert r.status_code == 200, r.text
    clock.offset = timedelta(seconds=r.json()["offset_s"])

    late = await approve(payer, challenge_id, code)
    assert late.status_code == 409 and late.json()["type"].endswith("/challenge-expired")
    renewed = challenged(await send(payer, body, key), "amount")
    assert renewed["challenge_id"] != challenge_id


async def test_five_wrong_codes_lock_the_challenge(gw: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = gw
    payer, source = await funded(client, "100.00")
    _, target = await funded(client, "1.00")
    body = {"payer_account_id": source, "payee_account_id": target, "amount": "5000.01"}
    challenge_id = challenged(await send(payer, body, str(uuid.uuid4())), "amount")["challenge_id"]
    code = await code_for(payer, challenge_id)
    left = []
    for _ in range(5):
        r = await approve(payer, challenge_id, wrong(code))
        assert r.status_code == 401, r.text
        left.append(r.json()["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    locked = await approve(payer, challenge_id, code)
    assert locked.status_code == 409 and locked.json()["type"].endswith("/challenge-locked")
    state = (await payer.get(f"/v1/auth/challenges/{challenge_id}")).json()
    assert (state["status"], state["attempts_left"]) == ("locked", 0)


async def no_code_sent(client: httpx.AsyncClient, phone: Phone) -> None:
    assert [m for m in await inbox(client, phone.phone) if m["kind"] == "step_up_code"] == []
    notices = (await phone.get("/v1/notifications")).json()["items"]
    assert [n for n in notices if n["kind"] == "stepup_code"] == []


def refused(r: httpx.Response, slug: str) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith(f"/{slug}"), r.json()


async def test_a_large_transfer_to_an_account_that_does_not_exist_is_refused_without_a_code(
    gw: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = gw
    payer, source = await funded(client, "100.00")
    body = {"payer_account_id": source, "payee_account_id": str(uuid.uuid4()), "amount": "6000.00"}
    key = str(uuid.uuid4())

    refused(await send(payer, body, key), "unknown-payee")
    refused(await send(payer, body, key), "unknown-payee")  # the repeat: the same answer, still no code
    await no_code_sent(client, payer)


async def test_a_large_transfer_above_the_kyc_per_payment_limit_is_refused_without_a_code(
    gw: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = gw
    payer, source = await funded(client, "100.00")  # a new customer: class II, 10,000.00 a payment
    _, target = await funded(client, "1.00")
    body = {"payer_account_id": source, "payee_account_id": target, "amount": "12000.00"}

    refused(await send(payer, body, str(uuid.uuid4())), "limit-exceeded")
    await no_code_sent(client, payer)


async def test_refused_payments_spend_none_of_the_codes_of_the_hour(gw: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = gw
    payer, source = await funded(client, "7000.00")
    _, target = await funded(client, "1.00")
    body = {"payer_account_id": source, "payee_account_id": target, "amount": "6000.00"}
    # Paid once before, so payments' own new-payee risk rule (above 5,000.00) stays out of it.
    await completed(payer, (await send(payer, {**body, "amount": "10.00"}, str(uuid.uuid4()))).json()["id"])
    # Refused by payments before it asks for a code: a payee that is no customer (each
    # spends a payee look-up, of which the payer has 10) and a payee named twice.
    for n in range(MAX_CHALLENGES_PER_HOUR):
        if n % 2:
            nowhere = {**body, "payee_account_id": str(uuid.uuid4())}
            refused(await send(payer, nowhere, str(uuid.uuid4())), "unknown-payee")
        else:
            twice = {**body, "payee_phone": payer.phone}
            refused(await send(payer, twice, str(uuid.uuid4())), "invalid-payee")

    # The valid one still gets its code, and goes through with it.
    key = str(uuid.uuid4())
    challenge_id = challenged(await send(payer, body, key), "amount")["challenge_id"]
    ok = await approve(payer, challenge_id, await code_for(payer, challenge_id))
    assert ok.status_code == 200, ok.text
    accepted = await send(payer, body, key)
    assert accepted.status_code == 202, accepted.text
    await completed(payer, accepted.json()["id"])
