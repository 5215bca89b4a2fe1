"""Sessions: refresh tokens rotate, a reused one revokes the session, logout ends it."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.phone import Phone

pytestmark = pytest.mark.e2e


async def test_refresh_rotates_and_reuse_revokes_the_session(gateway: httpx.AsyncClient, customer: Phone) -> None:
    first = customer.tokens["refresh_token"]
    r = await gateway.post("/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first

    reused = await gateway.post("/v1/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    assert reused.json()["type"].endswith("/refresh-token-reused")

    # The whole family is gone: the newer refresh token and the access token too.
    assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    headers = {"authorization": f"Bearer {second['access_token']}"}
    assert (await gateway.get("/v1/me", headers=headers)).status_code == 401


async def test_logout_ends_the_session(gateway: httpx.AsyncClient, customer: Phone) -> None:
    assert (await customer.get("/v1/me")).status_code == 200
    assert (await customer.post("/v1/auth/logout")).status_code == 204
    assert (await customer.get("/v1/me")).status_code == 401
    r = await gateway.post("/v1/auth/refresh", json={"refresh_token": customer.tokens["refresh_token"]})
    assert r.status_code == 401


async def test_demo_customer_logs_in_and_sees_funded_accounts(gateway: httpx.AsyncClient) -> None:
    from shared.sandbox import DEMO_CUSTOMERS

    demo = DEMO_CUSTOMERS[0]
    r = await gateway.post("/v1/auth/login", json={"phone": demo.phone, "password": demo.password})
    assert r.status_code == 200, r.text
    headers = {"authorization": f"Bearer {r.json()['access_token']}"}
    accounts = {a["id"]: a for a in (await gateway.get("/v1/accounts", headers=headers)).json()["items"]}
    for seeded in demo.accounts:
        assert accounts[seeded.id]["kind"] == seeded.kind
        assert accounts[seeded.id]["balance_minor"] >= 0
