"""POST /v1/sandbox/reset puts the whole bank back to its seed state. On the side stack, not
the session stack: a reset forgets every customer, so on the session stack it would pull
them from under whichever tests ran after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.sandbox import DEMO_CUSTOMERS, OPERATOR
from tests.e2e.phone import eventually, register_and_login
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def gateway(side_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=side_stack.gateway_url, timeout=10) as client:
        yield client


async def login(gateway: httpx.AsyncClient, phone: str, password: str) -> dict[str, str]:
    r = await gateway.post("/v1/auth/login", json={"phone": phone, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['access_token']}"}


async def test_reset_returns_to_the_seed(gateway: httpx.AsyncClient) -> None:
    someone = await register_and_login(gateway)
    account = await someone.open_account()
    await someone.settled((await someone.deposit(account["id"], "12.34"))["id"])
    demo = DEMO_CUSTOMERS[0]
    demo_headers = await login(gateway, demo.phone, demo.password)
    checking = demo.accounts[0]
    r = await gateway.post(
        "/v1/sandbox/deposits",
        json={"account_id": checking.id, "amount": "1.00"},
        headers={**demo_headers, "Idempotency-Key": "reset-test-deposit"},
    )
    assert r.status_code == 202

    async def settled() -> bool:
        status = (await gateway.get(f"/v1/sandbox/deposits/{r.json()['id']}", headers=demo_headers)).json()["status"]
        return status == "completed"

    await eventually(settled)  # nothing of it may arrive after the reset

    operator = await login(gateway, OPERATOR.phone, OPERATOR.password)
    assert (await gateway.post("/v1/sandbox/reset", headers=demo_headers)).status_code == 403
    r = await gateway.post("/v1/sandbox/reset", headers=operator)
    assert r.status_code == 200, r.text
    assert set(r.json()["services"].values()) == {"reset"}

    gone = await gateway.post("/v1/auth/login", json={"phone": someone.phone, "password": someone.password})
    assert gone.status_code == 401
    demo_headers = await login(gateway, demo.phone, demo.password)
    balance = (await gateway.get(f"/v1/accounts/{checking.id}", headers=demo_headers)).json()
    assert balance["balance_minor"] == checking.opening_minor
    operator = await login(gateway, OPERATOR.phone, OPERATOR.password)
    check = (await gateway.get("/v1/admin/ledger/check", headers=operator)).json()
    assert check["ok"], check["violations"]
