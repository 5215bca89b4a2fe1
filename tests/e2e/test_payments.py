"""Payments from the phone: each kind, each failure path, idempotency, money conserved."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def funded(client: httpx.AsyncClient, amount: str = "1000.00") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(client)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def pay(phone: Phone, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return await phone.post(f"/v1/payments/{path}", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


async def terminal(phone: Phone, payment_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = (await phone.get(f"/v1/payments/{payment_id}")).json()
        return body if body["status"] != "pending" else None

    return await eventually(done)


async def test_transfer_by_phone_moves_money_once(gateway: httpx.AsyncClient) -> None:
    payer, payer_account = await funded(gateway)
    payee, payee_account = await funded(gateway, "1.00")
    r = await pay(
        payer, "transfers", {"payer_account_id": payer_account["id"], "payee_phone": payee.phone, "amount": "88.80"}
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    done = await terminal(payer, r.json()["id"])
    assert done["status"] == "completed", done
    assert done["payee"]["label"].endswith(payee_account["customer_id"] and done["payee"]["label"][-1])
    assert await payer.balance(payer_account["id"]) == 1000_00 - 88_80
    assert await payee.balance(payee_account["id"]) == 1_00 + 88_80
    listed = (await payer.get("/v1/payments")).json()["items"]
    assert listed[0]["id"] == done["id"]


async def test_replayed_key_returns_the_same_payment(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway)
    _, other = await funded(gateway, "1.00")
    body = {"payer_account_id": account["id"], "payee_account_id": other["id"], "amount": "10.00"}
    key = str(uuid.uuid4())
    first, again = await pay(payer, "transfers", body, key), await pay(payer, "transfers", body, key)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert (await pay(payer, "transfers", {**body, "amount": "11.00"}, key)).status_code == 422
    missing = await payer.post("/v1/payments/transfers", json=body)
    assert missing.status_code == 400
    await terminal(payer, first.json()["id"])
    assert await payer.balance(account["id"]) == 1000_00 - 10_00


async def test_magic_amount_is_rejected_by_risk_and_the_hold_released(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway)
    _, other = await funded(gateway, "1.00")
    r = await pay(
        payer, "transfers", {"payer_account_id": account["id"], "payee_account_id": other["id"], "amount": "666.66"}
    )
    done = await terminal(payer, r.json()["id"])
    assert (done["status"], done["reason"]) == ("failed", "risk_rejected")
    acc = (await payer.get(f"/v1/accounts/{account['id']}")).json()
    assert acc["balance_minor"] == acc["available_minor"] == 1000_00


async def test_insufficient_funds_fails_without_a_hold(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway, "5.00")
    _, other = await funded(gateway, "1.00")
    r = await pay(
        payer, "transfers", {"payer_account_id": account["id"], "payee_account_id": other["id"], "amount": "50.00"}
    )
    done = await terminal(payer, r.json()["id"])
    assert (done["status"], done["reason"]) == ("failed", "insufficient_funds")
    assert (await payer.get(f"/v1/accounts/{account['id']}")).json()["available_minor"] == 5_00


async def test_class_daily_limit_fails_the_payment(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway, "20000.00")  # new customers are class II: 10,000 CNY a day
    _, other = await funded(gateway, "1.00")
    first = await pay(
        payer, "transfers", {"payer_account_id": account["id"], "payee_account_id": other["id"], "amount": "4000.00"}
    )
    assert (await terminal(payer, first.json()["id"]))["status"] == "completed"
    body = {"payer_account_id": account["id"], "payee_account_id": other["id"]}
    second = await pay(payer, "transfers", {**body, "amount": "4000.00"})
    assert (await terminal(payer, second.json()["id"]))["status"] == "completed"
    third = await pay(payer, "transfers", {**body, "amount": "4000.00"})
    done = await terminal(payer, third.json()["id"])
    assert (done["status"], done["reason"]) == ("failed", "class_limit_exceeded")


async def test_failing_biller_releases_the_hold_after_taking_it(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway)
    r = await pay(
        payer,
        "bills",
        {"payer_account_id": account["id"], "biller_code": "SANDBOX-FAIL", "bill_reference": "X1", "amount": "30.00"},
    )
    done = await terminal(payer, r.json()["id"])
    assert (done["status"], done["reason"]) == ("failed", "payee_unavailable")
    statement = (await payer.get(f"/v1/accounts/{account['id']}")).json()
    assert statement["balance_minor"] == statement["available_minor"] == 1000_00


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("bills", {"biller_code": "SH-WATER", "bill_reference": "3100012345", "amount": "56.40"}),
        ("qr", {"qr_payload": "sandbank://qr/v1?m=M100001&a=32.00&r=T42"}),
        ("qr", {"qr_payload": "sandbank://qr/v1?m=M100002", "amount": "9.90"}),
        ("topups", {"phone": "13912345678", "amount": "50.00"}),
    ],
)
async def test_bills_qr_and_topups_complete(gateway: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    payer, account = await funded(gateway)
    r = await pay(payer, path, {"payer_account_id": account["id"], **body})
    assert r.status_code == 202, r.text
    done = await terminal(payer, r.json()["id"])
    assert done["status"] == "completed", done
    assert await payer.balance(account["id"]) == 1000_00 - done["amount_minor"]


@pytest.mark.parametrize(
    ("path", "body", "status", "slug"),
    [
        ("transfers", {"payee_phone": "+8613000000000", "amount": "1.00"}, 422, "unknown-payee"),
        ("transfers", {"payee_account_id": "nope", "amount": "1.00"}, 422, "unknown-payee"),
        ("transfers", {"payee_phone": "+8613000000000", "amount": "0"}, 422, "invalid-amount"),
        ("transfers", {"payee_phone": "+8613000000000", "amount": "-3"}, 422, "invalid-amount"),
        ("transfers", {"payee_phone": "+8613000000000", "amount": "1.234"}, 422, "invalid-amount"),
        (
            "transfers",
            {"payee_phone": "+8613000000000", "amount": "5.00", "currency": "USD"},
            422,
            "unsupported-currency",
        ),
        ("transfers", {"payee_account_id": "internal:fees", "amount": "1.00"}, 422, "unknown-payee"),
        ("transfers", {"amount": "1.00"}, 422, "invalid-payee"),
        ("bills", {"biller_code": "NOPE", "bill_reference": "1", "amount": "1.00"}, 422, "unknown-biller"),
        ("bills", {"biller_code": "SH-WATER", "bill_reference": "12", "amount": "1.00"}, 422, "invalid-bill-reference"),
        ("qr", {"qr_payload": "sandbank://qr/v1?m=M999999&a=1.00"}, 422, "unknown-merchant"),
        ("qr", {"qr_payload": "http://evil.example/pay"}, 422, "malformed-qr"),
        ("qr", {"qr_payload": "sandbank://qr/v1?m=M100001"}, 422, "invalid-amount"),
        ("topups", {"phone": "12345", "amount": "10.00"}, 422, "invalid-phone"),
        ("topups", {"phone": "13912345678", "amount": "600.00"}, 422, "limit-exceeded"),
        ("transfers", {"payee_phone": "+8613800000002", "amount": "10001.00"}, 422, "limit-exceeded"),
    ],
)
async def test_bad_payment_requests_change_nothing(
    gateway: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, slug: str
) -> None:
    payer, account = await funded(gateway, "20000.00")
    r = await pay(payer, path, {"payer_account_id": account["id"], **body})
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + slug), r.json()
    assert (await payer.get("/v1/payments")).json()["items"] == []
    acc = (await payer.get(f"/v1/accounts/{account['id']}")).json()
    assert acc["balance_minor"] == acc["available_minor"] == 20000_00


async def test_paying_from_someone_elses_account_or_into_the_same_one(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway)
    other, other_account = await funded(gateway)
    stolen = await pay(
        payer,
        "transfers",
        {"payer_account_id": other_account["id"], "payee_account_id": account["id"], "amount": "1.00"},
    )
    assert stolen.status_code == 404
    same = await pay(
        payer, "transfers", {"payer_account_id": account["id"], "payee_account_id": account["id"], "amount": "1.00"}
    )
    assert same.status_code == 422 and same.json()["type"].endswith("/same-account")
    assert await other.balance(other_account["id"]) == 1000_00
    r = await pay(
        payer,
        "transfers",
        {"payer_account_id": account["id"], "payee_account_id": other_account["id"], "amount": "1.00"},
    )
    assert (await other.get(f"/v1/payments/{r.json()['id']}")).status_code == 404
