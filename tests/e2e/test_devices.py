"""Trusted devices from the phone: a login from a device the customer has not used is
challenged by an SMS code before any session; the new device pays under the lower limits
until the sandbox clock has moved 24 hours, sees them in its limits and sets up no standing
order meanwhile, nor removes another device, changes notification preferences or webhook
endpoints; customers list their devices and removing one ends its sessions. The project's
harness device ids are never challenged."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login, sms_code

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def login(client: httpx.AsyncClient, phone: Phone, device_id: str, **extra: str) -> httpx.Response:
    body = {"phone": phone.phone, "password": phone.password, "device_id": device_id, **extra}
    return await client.post("/v1/auth/login", json=body)


async def on_new_device(client: httpx.AsyncClient, phone: Phone, device_id: str) -> tuple[Phone, dict[str, str]]:
    """Log in on a device the customer has not used: challenged, then let in with the code
    (given back with its challenge)."""
    challenged = await login(client, phone, device_id)
    assert challenged.status_code == 401, challenged.text
    problem = challenged.json()
    assert (problem["type"].rsplit("/", 1)[-1], problem["reason"]) == ("step-up-required", "new_device")
    assert "access_token" not in problem
    code = await sms_code(client, phone.phone, "step_up_code")
    wrong = "000000" if code != "000000" else "111111"
    refused = await login(client, phone, device_id, challenge_id=problem["challenge_id"], code=wrong)
    assert refused.status_code == 401 and refused.json()["type"].endswith("challenge-code-invalid"), refused.text
    r = await login(client, phone, device_id, challenge_id=problem["challenge_id"], code=code)
    assert r.status_code == 200, r.text
    used = {"challenge_id": problem["challenge_id"], "code": code}
    return Phone(client, phone.customer_id, phone.phone, phone.password, r.json()), used


async def transfer(phone: Phone, payer: str, payee: str, amount: str) -> httpx.Response:
    body = {"payer_account_id": payer, "payee_account_id": payee, "amount": amount}
    return await phone.post("/v1/payments/transfers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


async def completed(phone: Phone, r: httpx.Response) -> None:
    assert r.status_code == 202, r.text

    async def done() -> dict[str, Any] | None:
        body = (await phone.get(f"/v1/payments/{r.json()['id']}")).json()
        return body if body["status"] != "pending" else None

    assert (await eventually(done))["status"] == "completed"


async def limits(phone: Phone) -> dict[str, Any]:
    r = await phone.get("/v1/payments/limits")
    assert r.status_code == 200, r.text
    return r.json()


def device_until(limits: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(limits["new_device"]["until"])


def standing_order(payer: str, payee: str, today: str) -> dict[str, Any]:
    """Monthly, starting far enough ahead that no run is made while the test looks."""
    first = date.fromisoformat(today) + timedelta(days=3000)
    return {
        "payer_account_id": payer,
        "payee_account_id": payee,
        "amount": "10.00",
        "first_run_on": str(first),
        "repeat": "monthly",
    }


def refused_new_device(r: httpx.Response) -> bool:
    return r.status_code == 422 and r.json()["type"].endswith("new-device-limit")


async def test_a_new_device_is_challenged_and_pays_under_lower_limits_for_a_day(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    trusted = await register_and_login(gateway)  # its first device: trusted at once
    checking = await trusted.open_account("checking")
    savings = await trusted.open_account("savings")
    await trusted.settled((await trusted.deposit(checking["id"], "20000.00"))["id"])
    payee = (await (await register_and_login(gateway)).open_account("checking"))["id"]
    device = f"iphone-{uuid.uuid4().hex[:8]}"
    phone, _ = await on_new_device(gateway, trusted, device)

    devices = (await phone.get("/v1/me/devices")).json()["items"]
    assert [(d["device_id"], d["trusted"]) for d in devices] == [("pytest", True), (device, False)]
    note = await eventually(lambda: _notification(phone, "new_device_signed_in"))
    assert note["data"]["device_id"] == device

    # New device: 1,000.00 a payment at most, 5,000.00 a day with the customer's other payments,
    # shown with until when in the limits screen; the trusted device sees none of it.
    shown = await limits(phone)
    assert (shown["new_device"]["per_payment"], shown["new_device"]["daily"]) == ("1000.00", "5000.00")
    assert (shown["new_device"]["remaining_today"], shown["payable_now"]) == ("5000.00", "1000.00")
    sandbox_now = datetime.fromisoformat((await phone.get("/v1/sandbox/clock")).json()["now"])
    assert timedelta(hours=23) < device_until(shown) - sandbox_now <= timedelta(hours=24)
    assert (await limits(trusted))["new_device"] is None
    assert refused_new_device(await transfer(phone, checking["id"], payee, "1000.01"))
    await completed(phone, await transfer(phone, checking["id"], payee, "1000.00"))
    await completed(trusted, await transfer(trusted, checking["id"], payee, "3500.00"))  # trusted: no cap
    # Moves between the customer's own accounts count toward no limit, the device's as the class's.
    await completed(phone, await transfer(phone, checking["id"], savings["id"], "1000.01"))
    shown = await limits(phone)
    assert (shown["new_device"]["used_today"], shown["new_device"]["remaining_today"]) == ("4500.00", "500.00")
    assert (shown["used_today"], shown["payable_now"]) == ("4500.00", "500.00")
    r = await transfer(phone, checking["id"], payee, "500.01")
    assert refused_new_device(r) and "500.00 CNY is left today" in r.json()["detail"], r.text
    await completed(phone, await transfer(phone, checking["id"], payee, "500.00"))
    await completed(phone, await transfer(phone, checking["id"], savings["id"], "2000.00"))  # none left: still moves
    # A standing order outlives the session: the new device cannot set one up.
    order = standing_order(checking["id"], savings["id"], shown["day"])
    r = await phone.post("/v1/payments/schedules", json=order, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 422 and r.json()["type"].endswith("schedule-needs-trusted-device"), r.text

    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400 + 60}, headers=operator_headers)
    assert r.status_code == 200, r.text
    # The same session, its device now a day old: the class's own limits apply.
    assert (await limits(phone))["new_device"] is None
    await completed(phone, await transfer(phone, checking["id"], savings["id"], "2000.00"))
    devices = (await phone.get("/v1/me/devices")).json()["items"]
    assert [d["trusted"] for d in devices] == [True, True]
    assert await phone.balance(savings["id"]) == 5_000_01
    r = await phone.post("/v1/payments/schedules", json=order, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    cancelled = await gateway.delete(f"/v1/payments/schedules/{r.json()['id']}", headers=phone.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text


async def test_removing_a_device_ends_its_sessions_and_its_next_login_is_challenged(
    gateway: httpx.AsyncClient,
) -> None:
    trusted = await register_and_login(gateway)
    device = f"pixel-{uuid.uuid4().hex[:8]}"
    phone, used = await on_new_device(gateway, trusted, device)
    again = await login(gateway, trusted, device)  # a bound device logs in again unchallenged
    assert again.status_code == 200, again.text
    second = Phone(gateway, trusted.customer_id, trusted.phone, trusted.password, again.json())

    listed = (await trusted.get("/v1/me/devices")).json()["items"]
    row = next(d for d in listed if d["device_id"] == device)
    stranger = await register_and_login(gateway)
    assert (await gateway.delete(f"/v1/me/devices/{row['id']}", headers=stranger.auth)).status_code == 404
    r = await gateway.delete(f"/v1/me/devices/{row['id']}", headers=trusted.auth)
    assert r.status_code == 204, r.text

    for gone in (phone, second):
        assert (await gone.get("/v1/me")).status_code == 401
    assert (await trusted.get("/v1/me")).status_code == 200
    assert [d["device_id"] for d in (await trusted.get("/v1/me/devices")).json()["items"]] == ["pytest"]
    assert (await login(gateway, trusted, device)).status_code == 401  # new again
    replayed = await login(gateway, trusted, device, **used)  # the used code binds nothing again
    assert replayed.status_code == 401 and replayed.json()["type"].endswith("step-up-required"), replayed.text
    assert replayed.json()["challenge_id"] != used["challenge_id"]


async def test_a_new_device_may_sign_itself_out_but_not_the_trusted_device_nor_silence_its_alerts(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    trusted = await register_and_login(gateway)  # on "pytest": trusted at once
    device = f"ipad-{uuid.uuid4().hex[:8]}"
    phone, _ = await on_new_device(gateway, trusted, device)
    rows = {d["device_id"]: d["id"] for d in (await phone.get("/v1/me/devices")).json()["items"]}
    sessions = {s["device_id"]: s["id"] for s in (await phone.get("/v1/me/sessions")).json()["items"]}

    evict = await gateway.delete(f"/v1/me/devices/{rows['pytest']}", headers=phone.auth)
    end_session = await gateway.delete(f"/v1/me/sessions/{sessions['pytest']}", headers=phone.auth)
    mute = await gateway.put(
        "/v1/me/notification-preferences",
        json={"items": [{"kind": "new_device_signed_in", "push": False}]},
        headers=phone.auth,
    )
    push = {"platform": "fcm", "token": f"fcm-{uuid.uuid4().hex}"}
    assert (await gateway.put("/v1/me/push-tokens/pytest", json=push, headers=trusted.auth)).status_code == 200
    unpush = await gateway.delete("/v1/me/push-tokens/pytest", headers=phone.auth)
    redirect = await gateway.put(
        "/v1/me/push-tokens/pytest", json=push | {"token": "fcm-theirs-0000"}, headers=phone.auth
    )
    own_push = await gateway.put(
        f"/v1/me/push-tokens/{device}", json=push | {"token": "fcm-its-own-0000"}, headers=phone.auth
    )
    mute_payments = await gateway.put(
        "/v1/me/notification-preferences",
        json={"items": [{"kind": "payment_sent", "push": False}]},
        headers=phone.auth,
    )
    # A webhook endpoint outlives the device and hears every event of the customer.
    exfil = {"url": "http://[::1]:9/exfil", "events": ["*"]}
    owners = await gateway.post(
        "/v1/webhooks/endpoints", json=exfil | {"url": "http://[::1]:9/own"}, headers=trusted.auth
    )
    assert owners.status_code == 201, owners.text
    endpoint = f"/v1/webhooks/endpoints/{owners.json()['id']}"
    hook = await gateway.post("/v1/webhooks/endpoints", json=exfil, headers=phone.auth)
    repoint = await gateway.patch(endpoint, json={"url": exfil["url"]}, headers=phone.auth)
    rotate = await gateway.post(f"{endpoint}/rotate-secret", headers=phone.auth)
    unhook = await gateway.delete(endpoint, headers=phone.auth)

    for refused in (evict, end_session, unpush, redirect, mute, mute_payments, hook, repoint, rotate, unhook):
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/device-too-new") and "new_until" in refused.json()
    assert own_push.status_code == 200, own_push.text
    assert (await phone.get("/v1/me/notification-preferences")).status_code == 200
    pushed = {p["kind"]: p["push"] for p in (await trusted.get("/v1/me/notification-preferences")).json()["items"]}
    assert pushed["payment_sent"] and pushed["new_device_signed_in"]
    hooks = (await gateway.get("/v1/webhooks/endpoints", headers=phone.auth)).json()["items"]
    assert [(h["id"], h["url"]) for h in hooks] == [(owners.json()["id"], "http://[::1]:9/own")]
    pushed_to = {t["device_id"]: t["token"] for t in (await trusted.get("/v1/me/push-tokens")).json()["items"]}
    assert pushed_to["pytest"] == push["token"]
    assert (await trusted.get("/v1/me")).status_code == 200
    assert {d["device_id"] for d in (await trusted.get("/v1/me/devices")).json()["items"]} == {"pytest", device}

    # A day on the sandbox clock, the same session's device is trusted: it may act on the
    # others as any trusted device does, the sign-in alert still not mutable.
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400 + 60}, headers=operator_headers)
    assert r.status_code == 200, r.text
    assert (await gateway.delete("/v1/me/push-tokens/pytest", headers=phone.auth)).status_code in (200, 204)
    assert "pytest" not in {t["device_id"] for t in (await phone.get("/v1/me/push-tokens")).json()["items"]}
    mute = await gateway.put(
        "/v1/me/notification-preferences",
        json={"items": [{"kind": "new_device_signed_in", "push": False}]},
        headers=phone.auth,
    )
    assert mute.status_code == 422 and mute.json()["type"].endswith("/preference-locked"), mute.text
    hook = await gateway.post("/v1/webhooks/endpoints", json=exfil, headers=phone.auth)
    assert hook.status_code == 201, hook.text
    for gone in (endpoint, f"/v1/webhooks/endpoints/{hook.json()['id']}"):
        assert (await gateway.delete(gone, headers=phone.auth)).status_code == 204
    assert (await gateway.delete(f"/v1/me/sessions/{sessions['pytest']}", headers=phone.auth)).status_code == 204
    assert (await trusted.get("/v1/me")).status_code == 401
    # Signing itself out is always allowed.
    assert (await gateway.delete(f"/v1/me/devices/{rows[device]}", headers=phone.auth)).status_code == 204
    assert (await phone.get("/v1/me")).status_code == 401


async def test_the_sandbox_trusts_the_harness_device_ids(gateway: httpx.AsyncClient) -> None:
    customer = await register_and_login(gateway)
    for device in ("trusted-tablet", "pytest-2", "sandbank-testing"):
        r = await login(gateway, customer, device)
        assert r.status_code == 200, r.text
    r = await gateway.post("/v1/auth/login", json={"phone": customer.phone, "password": customer.password})
    assert r.status_code == 200, r.text  # no device_id: `unknown-device`
    devices = (await customer.get("/v1/me/devices")).json()["items"]
    assert all(d["trusted"] for d in devices) and len(devices) == 5


async def _notification(phone: Phone, kind: str) -> dict[str, Any] | None:
    items = (await phone.get("/v1/notifications")).json()["items"]
    return next((n for n in items if n["kind"] == kind), None)
