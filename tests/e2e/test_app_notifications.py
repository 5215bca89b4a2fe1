"""Notifications as a banking app uses them: it registers its device's push token, the
customer chooses which kinds are pushed, each notification reaches the device (in the
sandbox: the push log), and the notifications screen marks everything read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_of
from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

APNS = "9f3c1a7e5b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"


async def funded(gateway: httpx.AsyncClient, amount: str = "1000.00") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(payer: Phone, source: str, target: str, amount: str) -> httpx.Response:
    return await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source, "payee_account_id": target, "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


async def put(phone: Phone, path: str, body: dict[str, Any]) -> httpx.Response:
    return await phone.client.put(path, json=body, headers=phone.auth)


async def delete(phone: Phone, path: str) -> httpx.Response:
    return await phone.client.delete(path, headers=phone.auth)


async def on_device(phone: Phone, device_id: str) -> Phone:
    """The same customer logged in on another device."""
    body = {"phone": phone.phone, "password": phone.password, "device_id": device_id}
    r = await phone.client.post("/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    return Phone(phone.client, phone.customer_id, phone.phone, phone.password, r.json())


async def register_device(phone: Phone, device_id: str = "pytest", token: str = APNS, platform: str = "apns") -> None:
    r = await put(phone, f"/v1/me/push-tokens/{device_id}", {"platform": platform, "token": token})
    assert r.status_code == 200, r.text


async def pushes(phone: Phone) -> list[dict[str, Any]]:
    r = await phone.get("/v1/sandbox/push-deliveries", params={"limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def notifications(phone: Phone, **params: Any) -> dict[str, Any]:
    r = await phone.get("/v1/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def notified(phone: Phone, kind: str, count: int = 1) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]] | None:
        found = [n for n in (await notifications(phone, limit=100))["items"] if n["kind"] == kind]
        return found if len(found) >= count else None

    return await eventually(listed)  # type: ignore[no-any-return]


async def test_money_received_is_pushed_to_each_registered_device_of_the_payee(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    payee, target = await funded(gateway, "1.00")
    await register_device(payee)
    tablet = await on_device(payee, "trusted-pixel-8")
    await register_device(tablet, "trusted-pixel-8", token="eKq3xY0pT8u:APA91bH-sandbox_fcm_token_0123", platform="fcm")

    r = await transfer(payer, source["id"], target["id"], "88.80")
    assert r.status_code == 202, r.text
    [received] = await notified(payee, "payment_received")

    got = [p for p in await pushes(payee) if p["kind"] == "payment_received"]
    assert sorted((p["device_id"], p["platform"]) for p in got) == [("pytest", "apns"), ("trusted-pixel-8", "fcm")]
    assert {(p["notification_id"], p["title"], p["body"], p["data"]["payment_id"]) for p in got} == {
        (received["id"], received["title"], received["body"], r.json()["id"])
    }
    assert await pushes(payer) == []  # the payer registered no device
    # The push names the notification the app marks read from it.
    assert (await payee.post(f"/v1/notifications/{got[0]['notification_id']}/read")).json()["read"] is True


async def test_a_muted_kind_stays_in_the_list_and_is_not_pushed(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    _, target = await funded(gateway, "1.00")
    await register_device(payer)
    r = await put(payer, "/v1/me/notification-preferences", {"items": [{"kind": "payment_sent", "push": False}]})
    assert r.status_code == 200, r.text
    assert {i["kind"]: i["push"] for i in r.json()["items"]}["payment_sent"] is False

    assert (await transfer(payer, source["id"], target["id"], "5.00")).status_code == 202
    await notified(payer, "payment_sent")

    assert [p for p in await pushes(payer) if p["kind"] == "payment_sent"] == []
    preferences = (await payer.get("/v1/me/notification-preferences")).json()["items"]
    assert {i["kind"]: (i["push"], i["locked"]) for i in preferences}["payment_sent"] == (False, False)


@pytest.fixture(scope="module")
async def stepup_gateway(stepup_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway of the stack whose payments asks for one-time codes (tests/e2e/conftest.py)."""
    async with client_of(stepup_stack) as client:
        yield client


async def test_a_step_up_code_is_pushed_even_when_the_customer_muted_it(stepup_gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(stepup_gateway, "3000.00")
    _, target = await funded(stepup_gateway, "1.00")
    await register_device(payer)
    locked = await put(payer, "/v1/me/notification-preferences", {"items": [{"kind": "stepup_code", "push": False}]})
    assert locked.status_code == 422 and locked.json()["type"].endswith("/preference-locked")
    await put(payer, "/v1/me/notification-preferences", {"items": [{"kind": "price_alert", "push": False}]})

    # Above the new-payee threshold: a one-time code is sent, and the customer is told so.
    r = await transfer(payer, source["id"], target["id"], "1500.00")
    assert r.status_code == 401 and r.json()["type"].endswith("/step-up-required"), r.text

    [pushed] = [p for p in await pushes(payer) if p["kind"] == "stepup_code"]
    assert pushed["data"]["challenge_id"] == r.json()["challenge_id"]
    assert "code" not in pushed["data"]  # the code goes by SMS only


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"items": [{"kind": "horoscope", "push": False}]}, "unknown-kind"),
        ({"items": [{"kind": "price_alert"}]}, "validation-error"),
        ({"items": [{"kind": "price_alert", "push": False}], "email": True}, "validation-error"),
    ],
)
async def test_preferences_the_bank_does_not_know_are_refused(customer: Phone, body: dict[str, Any], slug: str) -> None:
    r = await put(customer, "/v1/me/notification-preferences", body)

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(f"/{slug}")


async def test_a_device_token_is_listed_replaced_and_removed(customer: Phone) -> None:
    await register_device(customer, token="a" * 64)
    await register_device(customer, token="b" * 64)  # the platform rotated it

    listed = (await customer.get("/v1/me/push-tokens")).json()["items"]
    assert [(d["device_id"], d["token"]) for d in listed] == [("pytest", "b" * 64)]

    assert (await delete(customer, "/v1/me/push-tokens/pytest")).status_code == 204
    assert (await customer.get("/v1/me/push-tokens")).json()["items"] == []
    gone = await delete(customer, "/v1/me/push-tokens/pytest")
    assert gone.status_code == 404 and gone.json()["type"].endswith("/not-found")


async def test_a_device_logged_out_gets_no_more_pushes(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    payee, target = await funded(gateway, "1.00")
    tablet = await on_device(payee, "trusted-ipad-air-xyz")
    await register_device(payee)
    await register_device(tablet, "trusted-ipad-air-xyz", token="c" * 64)
    assert (await tablet.post("/v1/auth/logout")).status_code == 204

    assert (await transfer(payer, source["id"], target["id"], "3.00")).status_code == 202
    await notified(payee, "payment_received")

    assert [p["device_id"] for p in await pushes(payee)] == ["pytest"]


async def test_a_token_for_a_device_not_logged_in_is_refused(customer: Phone) -> None:
    r = await put(customer, "/v1/me/push-tokens/someone-elses-phone", {"platform": "apns", "token": APNS})

    assert r.status_code == 422 and r.json()["type"].endswith("/device-not-logged-in")
    assert (await customer.get("/v1/me/push-tokens")).json()["items"] == []


@pytest.mark.parametrize(
    ("device_id", "body"),
    [
        ("iphone", {"platform": "sms", "token": APNS}),
        ("iphone", {"platform": "apns", "token": "short"}),
        ("iphone", {"platform": "apns", "token": "has spaces in it"}),
        ("iphone", {"platform": "apns"}),
        ("x" * 101, {"platform": "apns", "token": APNS}),
        ("a%20b", {"platform": "apns", "token": APNS}),
    ],
)
async def test_a_push_token_the_bank_cannot_use_is_a_422(customer: Phone, device_id: str, body: dict[str, Any]) -> None:
    r = await put(customer, f"/v1/me/push-tokens/{device_id}", body)

    assert r.status_code == 422 and r.json()["type"].endswith("/validation-error")


async def test_a_customer_reads_only_their_own_pushes_and_an_operator_anyones(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway)
    payee, target = await funded(gateway, "1.00")
    await register_device(payee)
    assert (await transfer(payer, source["id"], target["id"], "2.00")).status_code == 202
    await notified(payee, "payment_received")

    other = await payer.get("/v1/sandbox/push-deliveries", params={"customer_id": payee.customer_id})
    assert other.status_code == 403
    seen = await gateway.get(
        "/v1/sandbox/push-deliveries", params={"customer_id": payee.customer_id}, headers=operator_headers
    )
    assert seen.status_code == 200 and [p["kind"] for p in seen.json()["items"]] == ["payment_received"]
    whose = await gateway.get("/v1/sandbox/push-deliveries", headers=operator_headers)
    assert whose.status_code == 422


async def test_mark_all_read_empties_the_unread_count_the_home_screen_shows(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    _, target = await funded(gateway, "1.00")
    for amount in ("1.00", "2.00", "3.00"):
        assert (await transfer(payer, source["id"], target["id"], amount)).status_code == 202
    sent = await notified(payer, "payment_sent", 3)
    assert (await notifications(payer))["unread_count"] == 3

    # The phone drew the list up to the second newest: only those are marked.
    r = await payer.post("/v1/notifications/read-all", params={"before_id": sent[1]["id"]})
    assert r.status_code == 200 and r.json() == {"marked": 2, "unread_count": 1}

    r = await payer.post("/v1/notifications/read-all")
    assert r.json() == {"marked": 1, "unread_count": 0}
    assert (await payer.get("/v1/home")).json()["unread_notifications"] == 0
    assert all(n["read"] for n in (await notifications(payer))["items"])
    assert (await payer.post("/v1/notifications/read-all")).json() == {"marked": 0, "unread_count": 0}


async def test_mark_all_read_refuses_an_id_that_is_not_one(customer: Phone) -> None:
    r = await customer.post("/v1/notifications/read-all", params={"before_id": "newest"})

    assert r.status_code == 422 and r.json()["type"].endswith("/validation-error")
