"""Account freezes through the gateway: a compliance officer freezes an account, a payment
from it fails with the reason and moves nothing, the customer sees the freeze and is told;
after unfreezing the same payment goes through. An outflows-only freeze still lets money in."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def funded(client: httpx.AsyncClient, amount: str = "500.00") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(client)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(payer: Phone, source: dict[str, Any], target: dict[str, Any], amount: str) -> dict[str, Any]:
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text

    async def done() -> dict[str, Any] | None:
        body = (await payer.get(f"/v1/payments/{r.json()['id']}")).json()
        return body if body["status"] != "pending" else None

    return await eventually(done)


async def freeze(
    gateway: httpx.AsyncClient, headers: dict[str, str], account_id: str, mode: str, reason: str
) -> httpx.Response:
    return await gateway.post(
        f"/v1/admin/accounts/{account_id}/freeze", json={"mode": mode, "reason": reason}, headers=headers
    )


async def notified(phone: Phone, title: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        items = (await phone.get("/v1/notifications")).json()["items"]
        return next((n for n in items if n["kind"] == "account_freeze_changed" and n["title"] == title), None)

    return await eventually(found)


async def test_a_frozen_account_refuses_a_payment_and_takes_it_after_unfreezing(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway)
    _, target = await funded(gateway, "1.00")
    r = await freeze(gateway, operator_headers, source["id"], "full", "court order 2025-17")
    assert r.status_code == 200, r.text
    assert r.json()["freeze"]["mode"] == "full" and r.json()["freeze"]["reason"] == "court order 2025-17"

    seen = (await payer.get(f"/v1/accounts/{source['id']}")).json()
    assert seen["freeze"]["mode"] == "full" and seen["freeze"]["since"]
    told = await notified(payer, "Account frozen")
    assert "court order 2025-17" in told["body"]

    failed = await transfer(payer, source, target, "50.00")
    assert failed["status"] == "failed" and failed["reason"] == "account_frozen", failed
    assert await payer.balance(source["id"]) == 500_00
    assert (await payer.get(f"/v1/accounts/{source['id']}")).json()["held_minor"] == 0

    r = await gateway.post(
        f"/v1/admin/accounts/{source['id']}/unfreeze", json={"reason": "order lifted"}, headers=operator_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["freeze"] is None
    await notified(payer, "Account unfrozen")
    done = await transfer(payer, source, target, "50.00")
    assert done["status"] == "completed", done
    assert await payer.balance(source["id"]) == 450_00


async def test_an_outflows_freeze_still_accepts_incoming_money(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway)
    payee, target = await funded(gateway, "1.00")
    assert (await freeze(gateway, operator_headers, target["id"], "outflows", "under review")).status_code == 200
    done = await transfer(payer, source, target, "20.00")
    assert done["status"] == "completed", done
    assert await payee.balance(target["id"]) == 21_00
    back = await transfer(payee, target, source, "1.00")
    assert back["status"] == "failed" and back["reason"] == "account_frozen"


async def test_a_full_freeze_refuses_incoming_money_too(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway)
    payee, target = await funded(gateway, "1.00")
    assert (await freeze(gateway, operator_headers, target["id"], "full", "sanctions check")).status_code == 200
    done = await transfer(payer, source, target, "20.00")
    assert done["status"] == "failed", done
    assert await payer.balance(source["id"]) == 500_00
    assert await payee.balance(target["id"]) == 1_00


async def test_freezing_needs_the_compliance_role_and_a_known_account(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway, "1.00")
    r = await phone.post(f"/v1/admin/accounts/{account['id']}/freeze", json={"mode": "full", "reason": "x"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await freeze(gateway, operator_headers, "no-such-account", "full", "x")).status_code == 404
    r = await gateway.post(
        f"/v1/admin/accounts/{account['id']}/unfreeze", json={"reason": "x"}, headers=operator_headers
    )
    assert r.status_code == 409 and r.json()["type"].endswith("not-frozen")
    assert (await freeze(gateway, operator_headers, account["id"], "partly", "x")).status_code == 422


async def frozen_ids(gateway: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    r = await gateway.get("/v1/admin/accounts/frozen", headers=headers)
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["items"]]


async def test_the_frozen_list_holds_an_account_while_it_is_frozen(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway, "1.00")
    assert account["id"] not in await frozen_ids(gateway, operator_headers)
    assert (await freeze(gateway, operator_headers, account["id"], "outflows", "listed")).status_code == 200
    r = await gateway.get("/v1/admin/accounts/frozen", headers=operator_headers)
    listed = next(a for a in r.json()["items"] if a["id"] == account["id"])
    assert listed["freeze"]["mode"] == "outflows" and listed["freeze"]["reason"] == "listed"
    assert listed["customer_id"] == phone.customer_id
    r = await gateway.post(
        f"/v1/admin/accounts/{account['id']}/unfreeze", json={"reason": "cleared"}, headers=operator_headers
    )
    assert r.status_code == 200, r.text
    assert account["id"] not in await frozen_ids(gateway, operator_headers)


async def test_the_frozen_list_needs_the_compliance_role_and_a_sane_limit(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], customer: Phone
) -> None:
    assert (await gateway.get("/v1/admin/accounts/frozen")).status_code == 401
    refused = await customer.get("/v1/admin/accounts/frozen")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    for limit in ("0", "501", "x"):
        r = await gateway.get("/v1/admin/accounts/frozen", params={"limit": limit}, headers=operator_headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
