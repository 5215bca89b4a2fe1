"""Signed webhooks through the whole stack: an endpoint registered through the gateway, a
transfer made by a phone, and the event POSTed to a real receiver in the test, verified
with the recipe of docs/webhooks.md (shared.webhooks.verify)."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.webhooks import WebhookVerificationError, verify
from tests.e2e.phone import Phone, eventually, register_and_login
from tests.webhooks import Receiver
from tools.stack import Stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


async def funded(gateway: httpx.AsyncClient, amount: str = "100.00") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(payer: Phone, source: str, target: str, amount: str) -> str:
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source, "payee_account_id": target, "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def register_endpoint(owner: Phone, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = await owner.post("/v1/webhooks/endpoints", json={"url": url, "events": events or ["*"], "description": "test"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def delivery_of(owner: Phone, endpoint_id: str, event_id: str, status: str = "succeeded") -> dict[str, Any]:
    """The endpoint's delivery of `event_id` once it has `status`, with its attempts."""

    async def found() -> dict[str, Any] | None:
        r = await owner.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries", params={"status": status})
        assert r.status_code == 200, r.text
        ids = [d["id"] for d in r.json()["items"] if d["event_id"] == event_id]
        if not ids:
            return None
        detail = await owner.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries/{ids[0]}")
        assert detail.status_code == 200, detail.text
        return dict(detail.json())

    result: dict[str, Any] = await eventually(found, timeout_s=15)
    return result


async def test_a_transfer_arrives_signed_and_verifies_with_the_documented_recipe(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    payee = await register_and_login(gateway)
    target = await payee.open_account("checking")
    async with Receiver() as receiver:
        endpoint = await register_endpoint(payer, receiver.url, ["payment_sent"])
        assert endpoint["secret"].startswith("whsec_") and endpoint["scope"] == "customer"
        payment_id = await transfer(payer, source["id"], target["id"], "12.34")

        got = await receiver.next(receiver.of_type("payment_sent", payment_id=payment_id))

    verify(got.body, got.headers["Sandbank-Signature"], endpoint["secret"])
    event = got.event
    assert event["id"] == got.headers["Sandbank-Webhook-Id"] and event["id"].startswith("evt_")
    assert event["data"]["amount"] == "12.34" and event["data"]["customer_id"] == payer.customer_id
    assert got.headers["Content-Type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        verify(got.body, got.headers["Sandbank-Signature"], "whsec_not-the-secret")
    # The secret is shown once: not in the list, not in the endpoint.
    listed = (await payer.get("/v1/webhooks/endpoints")).json()["items"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    assert "secret" not in (await payer.get(f"/v1/webhooks/endpoints/{endpoint['id']}")).json()


async def test_a_receiver_failing_twice_gets_it_on_the_third_attempt_with_every_attempt_logged(
    gateway: httpx.AsyncClient,
) -> None:
    payer, source = await funded(gateway)
    async with Receiver(answers=[500, 500]) as receiver:
        endpoint = await register_endpoint(payer, receiver.url, ["payment_sent"])
        target = await payer.open_account("savings")
        payment_id = await transfer(payer, source["id"], target["id"], "1.00")
        got = await receiver.next(receiver.of_type("payment_sent", payment_id=payment_id))
        delivery = await delivery_of(payer, endpoint["id"], got.event["id"])

    assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200
    log = delivery["attempt_log"]
    assert [a["status_code"] for a in log] == [500, 500, 200]
    assert log[0]["response_excerpt"] == "receiver says 500" and all(a["duration_ms"] >= 0 for a in log)
    assert delivery["event"] == got.event
    assert len([r for r in receiver.received if r.event["id"] == got.event["id"]]) == 3


async def test_a_delivery_is_replayed_with_the_same_event(gateway: httpx.AsyncClient, customer: Phone) -> None:
    async with Receiver() as receiver:
        endpoint = await register_endpoint(customer, receiver.url)
        r = await customer.post(f"/v1/webhooks/endpoints/{endpoint['id']}/test")
        assert r.status_code == 202, r.text
        first = r.json()
        got = await receiver.next(receiver.of_type("webhook_test"))
        got.verified(endpoint["secret"])
        await delivery_of(customer, endpoint["id"], first["event_id"])

        r = await customer.post(f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries/{first['id']}/redeliver")
        assert r.status_code == 202, r.text
        replay = r.json()
        assert replay["replay_of"] == first["id"] and replay["event_id"] == first["event_id"]

        async def twice() -> bool:
            return len(receiver.received) >= 2

        await eventually(twice)

    again = receiver.received[1]
    assert again.body == got.body and again.webhook_id == got.webhook_id
    again.verified(endpoint["secret"])


async def test_another_customers_endpoint_does_not_see_the_event(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    payee = await register_and_login(gateway)
    target = await payee.open_account("checking")
    bystander = await register_and_login(gateway)
    async with Receiver() as payers, Receiver() as payees, Receiver() as bystanders:
        await register_endpoint(payer, payers.url)
        await register_endpoint(payee, payees.url)
        theirs = await register_endpoint(bystander, bystanders.url)
        payment_id = await transfer(payer, source["id"], target["id"], "2.00")

        await payers.next(payers.of_type("payment_sent", payment_id=payment_id))
        received = await payees.next(payees.of_type("payment_received", payment_id=payment_id))

    assert received.event["data"]["customer_id"] == payee.customer_id
    assert all(r.event["data"]["customer_id"] == payer.customer_id for r in payers.received)
    assert bystanders.received == []
    r = await bystander.get(f"/v1/webhooks/endpoints/{theirs['id']}/deliveries")
    assert r.json()["items"] == []
    # Nor may the bystander read the payer's endpoints.
    mine = (await payer.get("/v1/webhooks/endpoints")).json()["items"][0]
    r = await bystander.get(f"/v1/webhooks/endpoints/{mine['id']}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_an_operators_endpoint_hears_every_customer(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway)
    target = await payer.open_account("savings")
    async with Receiver() as partner:
        r = await gateway.post(
            "/v1/webhooks/endpoints", json={"url": partner.url, "events": ["payment_sent"]}, headers=operator_headers
        )
        assert r.status_code == 201, r.text
        endpoint = r.json()
        try:
            assert endpoint["scope"] == "all"
            payment_id = await transfer(payer, source["id"], target["id"], "3.00")
            got = await partner.next(partner.of_type("payment_sent", payment_id=payment_id))
            assert got.verified(endpoint["secret"])["data"]["customer_id"] == payer.customer_id
        finally:
            gone = await gateway.delete(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=operator_headers)
            assert gone.status_code == 204


async def test_after_a_rotation_both_secrets_verify_until_the_grace_period_ends(customer: Phone) -> None:
    async with Receiver() as receiver:
        endpoint = await register_endpoint(customer, receiver.url)
        r = await customer.post(f"/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret")
        assert r.status_code == 200, r.text
        rotated = r.json()
        assert rotated["secret"] != endpoint["secret"] and rotated["previous_secret_expires_at"]
        await customer.post(f"/v1/webhooks/endpoints/{endpoint['id']}/test")
        during = await receiver.next()

        r = await customer.post(f"/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret", params={"grace_s": 0})
        latest = r.json()
        assert latest["previous_secret_expires_at"] is None
        await customer.post(f"/v1/webhooks/endpoints/{endpoint['id']}/test")
        after = await receiver.next(lambda got: got is not during)

    during.verified(rotated["secret"])
    during.verified(endpoint["secret"])
    after.verified(latest["secret"])
    with pytest.raises(WebhookVerificationError):
        after.verified(rotated["secret"])


async def test_an_endpoint_is_changed_disabled_and_removed(customer: Phone) -> None:
    endpoint = await register_endpoint(customer, "https://shop.example.com/hooks")
    path = f"/v1/webhooks/endpoints/{endpoint['id']}"

    r = await customer.client.patch(
        path, json={"events": ["claim_paid", "order_filled"], "enabled": False}, headers=customer.auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["events"] == ["claim_paid", "order_filled"] and r.json()["enabled"] is False
    assert (await customer.get(path)).json()["url"] == "https://shop.example.com/hooks"

    assert (await customer.client.delete(path, headers=customer.auth)).status_code == 204
    r = await customer.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("ftp://example.com/hooks", "invalid-endpoint"),
        ("https://admin:hunter2@example.com/hooks", "invalid-endpoint"),
        ("https:///hooks", "invalid-endpoint"),
        ("https://example.com/" + "x" * 2100, "validation-error"),
    ],
)
async def test_bad_urls_are_refused_with_problem_json(customer: Phone, url: str, slug: str) -> None:
    r = await customer.post("/v1/webhooks/endpoints", json={"url": url, "events": ["*"]})

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(f"/{slug}")
    assert (await customer.get("/v1/webhooks/endpoints")).json()["items"] == []


async def test_too_many_endpoints_are_refused(customer: Phone) -> None:
    for n in range(10):
        await register_endpoint(customer, f"https://shop.example.com/hooks/{n}")

    r = await customer.post("/v1/webhooks/endpoints", json={"url": "https://shop.example.com/more", "events": ["*"]})

    assert r.status_code == 422 and r.json()["type"].endswith("/too-many-endpoints")


async def test_sandbank_listen_relays_signed_deliveries_and_removes_its_endpoint(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    payer, source = await funded(gateway)
    target = await payer.open_account("savings")
    async with Receiver() as local:
        listening = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tools.cli",
            "listen",
            "--gateway",
            stack.gateway_url,
            "--phone",
            payer.phone,
            "--password",
            payer.password,
            "--events",
            "payment_sent,payment_received",
            "--forward-to",
            local.url,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        assert listening.stdout is not None
        try:
            ready = (await asyncio.wait_for(listening.stdout.readline(), 30)).decode()
            secret = re.search(r"whsec_[A-Za-z0-9_-]+", ready)
            assert secret, ready
            await listening.stdout.readline()  # Forwarding to ...
            endpoints = (await payer.get("/v1/webhooks/endpoints")).json()["items"]
            assert [e["description"] for e in endpoints] == ["sandbank listen"]

            payment_id = await transfer(payer, source["id"], target["id"], "4.00")
            got = await local.next(local.of_type("payment_sent", payment_id=payment_id))
            line = (await asyncio.wait_for(listening.stdout.readline(), 15)).decode()
        finally:
            listening.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(listening.wait(), 15)

    assert code == 0
    assert got.verified(secret.group(0))["data"]["customer_id"] == payer.customer_id
    assert "payment_sent" in line and "[200]" in line, line
    r = await payer.get("/v1/webhooks/endpoints")
    assert r.json()["items"] == []
