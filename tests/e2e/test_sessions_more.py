"""Sessions a customer can see and end, and the login lockout after wrong passwords."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, new_phone_number, register_and_login

pytestmark = pytest.mark.e2e


async def login(gateway: httpx.AsyncClient, phone: str, password: str, device: str = "pytest") -> httpx.Response:
    return await gateway.post("/v1/auth/login", json={"phone": phone, "password": password, "device_id": device})


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}


async def test_sessions_list_each_device_and_which_one_is_this(gateway: httpx.AsyncClient, customer: Phone) -> None:
    tablet = (await login(gateway, customer.phone, customer.password, "trusted-ipad-air")).json()
    listed = (await customer.get("/v1/me/sessions")).json()["items"]
    assert [(s["device_id"], s["current"]) for s in listed] == [("trusted-ipad-air", False), ("pytest", True)]
    assert all(at(s["created_at"]) <= at(s["last_used_at"]) < at(s["expires_at"]) for s in listed)

    before = at(next(s for s in listed if s["device_id"] == "trusted-ipad-air")["last_used_at"])
    await asyncio.sleep(0.01)
    assert (await gateway.get("/v1/me", headers=bearer(tablet))).status_code == 200

    async def used() -> bool:
        items = (await customer.get("/v1/me/sessions")).json()["items"]
        return at(next(s for s in items if s["device_id"] == "trusted-ipad-air")["last_used_at"]) > before

    await eventually(used)


async def test_ending_another_device_logs_it_out(gateway: httpx.AsyncClient, customer: Phone) -> None:
    tablet = (await login(gateway, customer.phone, customer.password, "trusted-ipad-air")).json()
    r = await customer.client.delete(f"/v1/me/sessions/{tablet['session_id']}", headers=customer.auth)
    assert r.status_code == 204, r.text
    assert (await gateway.get("/v1/me", headers=bearer(tablet))).status_code == 401
    refreshed = await gateway.post("/v1/auth/refresh", json={"refresh_token": tablet["refresh_token"]})
    assert refreshed.status_code == 401
    assert [s["device_id"] for s in (await customer.get("/v1/me/sessions")).json()["items"]] == ["pytest"]
    assert (await customer.get("/v1/me")).status_code == 200


async def test_another_customers_session_is_a_404(gateway: httpx.AsyncClient, customer: Phone) -> None:
    other = await register_and_login(gateway)
    r = await customer.client.delete(f"/v1/me/sessions/{other.tokens['session_id']}", headers=customer.auth)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    assert (await other.get("/v1/me")).status_code == 200
    unknown = await customer.client.delete("/v1/me/sessions/no-such-session", headers=customer.auth)
    assert unknown.status_code == 404
    assert [s["id"] for s in (await other.get("/v1/me/sessions")).json()["items"]] == [other.tokens["session_id"]]


async def test_five_wrong_passwords_lock_the_login_until_the_lockout_passes(
    gateway: httpx.AsyncClient, customer: Phone, operator_headers: dict[str, str]
) -> None:
    for _ in range(5):
        r = await login(gateway, customer.phone, "wrong-password")
        assert r.status_code == 401 and r.json()["type"].endswith("/invalid-credentials")
    locked = await login(gateway, customer.phone, customer.password)
    assert locked.status_code == 429, locked.text
    assert locked.json()["type"].endswith("/login-locked")
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    assert (await customer.get("/v1/me")).status_code == 200  # sessions already open carry on

    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 301}, headers=operator_headers)
    assert r.status_code == 200, r.text
    assert (await login(gateway, customer.phone, customer.password)).status_code == 200


async def test_a_good_login_clears_the_count(gateway: httpx.AsyncClient, customer: Phone) -> None:
    for _ in range(4):
        assert (await login(gateway, customer.phone, "wrong-password")).status_code == 401
    assert (await login(gateway, customer.phone, customer.password)).status_code == 200
    for _ in range(4):
        assert (await login(gateway, customer.phone, "wrong-password")).status_code == 401
    assert (await login(gateway, customer.phone, customer.password)).status_code == 200


async def test_an_unregistered_number_locks_the_same_way(gateway: httpx.AsyncClient) -> None:
    number = new_phone_number()
    answers = [(await login(gateway, number, "whatever-1")).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
