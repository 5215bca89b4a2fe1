"""The home screen in one call, and what it does when a service is down or hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def banked_customer(gateway: httpx.AsyncClient) -> tuple[Phone, dict[str, Any]]:
    """A customer with money, a payment, an active policy and an open (reported) claim."""
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], "2000.00"))["id"])
    other = await register_and_login(gateway)
    target = await other.open_account("checking")
    r = await phone.post(
        "/v1/payments/transfers",
        json={"payer_account_id": account["id"], "payee_account_id": target["id"], "amount": "25.00"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    payment_id = r.json()["id"]
    quote = await phone.post(
        "/v1/insurance/quotes",
        json={"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"},
    )
    r = await phone.post(
        "/v1/insurance/policies",
        json={"quote_id": quote.json()["id"], "account_id": account["id"]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    policy_id = r.json()["id"]

    async def active() -> dict[str, Any] | None:
        policy: dict[str, Any] = (await phone.get(f"/v1/insurance/policies/{policy_id}")).json()
        return policy if policy["status"] == "active" else None

    policy = await eventually(active)
    r = await phone.post(
        "/v1/insurance/claims",
        json={
            "policy_id": policy_id,
            "kind": "accidental_injury",
            "amount": "300.00",
            "incident_date": policy["starts_on"],
        },
    )
    assert r.status_code == 201, r.text
    return phone, {"account": account, "payment_id": payment_id, "policy": policy, "claim": r.json()}


async def test_home_shows_everything_in_one_call(gateway: httpx.AsyncClient) -> None:
    phone, have = await banked_customer(gateway)

    async def settled() -> dict[str, Any] | None:
        r = await phone.get("/v1/home")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        done = body["recent_activity"] and body["recent_activity"][0]["status"] == "completed"
        return body if done and body["unread_notifications"] >= 2 else None

    home = await eventually(settled)
    assert home["missing"] == []
    assert home["customer"]["id"] == phone.customer_id
    assert [a["id"] for a in home["accounts"]] == [have["account"]["id"]]
    assert home["total_balance"] == "1915.00"  # 2,000.00 less the 25.00 payment and the 60.00 premium
    assert [p["id"] for p in home["recent_activity"]] == [have["payment_id"]]
    assert [p["id"] for p in home["active_policies"]] == [have["policy"]["id"]]
    assert home["portfolio"]["positions"] == 0 and home["portfolio"]["market_value_minor"] == 0
    assert [(c["id"], c["status"]) for c in home["open_claims"]] == [(have["claim"]["id"], "reported")]


async def test_home_with_insurance_stopped_answers_with_the_rest(stack: Stack, gateway: httpx.AsyncClient) -> None:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    await asyncio.to_thread(stack.kill, "insurance")
    try:
        r = await phone.get("/v1/home")
        assert r.status_code == 200, r.text
        home = r.json()
        assert home["missing"] == ["insurance"]
        assert home["active_policies"] is None and home["open_claims"] is None
        assert [a["id"] for a in home["accounts"]] == [account["id"]]
        assert home["recent_activity"] == [] and home["portfolio"] is not None
    finally:
        await asyncio.to_thread(stack.restart, "insurance", 60)
    assert (await phone.get("/v1/home")).json()["missing"] == []


async def test_home_does_not_wait_for_a_hanging_service(stack: Stack, customer: Phone) -> None:
    process = stack.processes["securities"].popen
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        # Answered while securities still cannot answer: the gateway gave up on it.
        r = await customer.get("/v1/home")
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert r.status_code == 200, r.text
    assert r.json()["missing"] == ["securities"] and r.json()["portfolio"] is None
