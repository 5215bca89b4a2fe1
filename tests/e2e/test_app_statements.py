"""What a banking app shows after money moves, through the gateway as a phone asks: each
side's statement reads as a person would say it, with a kind and the id of the payment or
deposit behind each line; the payee lists and opens the payment it was told about; the
home screen shows money that came in."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shared.schemas.accounts import mask_name
from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def pay(phone: Phone, path: str, body: dict[str, Any]) -> str:
    r = await phone.post(f"/v1/payments/{path}", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 202, r.text
    payment_id = str(r.json()["id"])

    async def completed() -> bool:
        return (await phone.get(f"/v1/payments/{payment_id}")).json()["status"] == "completed"

    await eventually(completed)
    return payment_id


async def statement(phone: Phone, account_id: str) -> list[dict[str, Any]]:
    r = await phone.get(f"/v1/accounts/{account_id}/transactions")
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def lines(items: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None]]:
    """Oldest first: kind, description, reference kind and id."""
    return [(i["kind"], i["description"], i["reference_kind"], i["reference_id"]) for i in reversed(items)]


async def notified(phone: Phone, kind: str, payment_id: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        r = await phone.get("/v1/notifications", params={"limit": 50})
        assert r.status_code == 200, r.text
        return next(
            (n for n in r.json()["items"] if n["kind"] == kind and n["data"].get("payment_id") == payment_id), None
        )

    return await eventually(found)  # type: ignore[no-any-return]


async def test_payer_and_payee_statements_read_as_people_say_them(gateway: httpx.AsyncClient) -> None:
    wang = await register_and_login(gateway, "Wang Fang")
    li = await register_and_login(gateway, "Li Wei")
    wallet = await wang.open_account("checking")
    li_account = await li.open_account("checking")
    deposit = await wang.deposit(wallet["id"], "500.00")
    await wang.settled(deposit["id"])
    merchant = (await wang.get("/v1/merchants")).json()["items"][0]

    transfer = await pay(
        wang,
        "transfers",
        {"payer_account_id": wallet["id"], "payee_phone": li.phone, "amount": "30.00", "note": "lunch"},
    )
    bill = await pay(
        wang,
        "bills",
        {"payer_account_id": wallet["id"], "biller_code": "SG-ELEC", "bill_reference": "1234567890", "amount": "80.00"},
    )
    qr = await pay(wang, "qr", {"payer_account_id": wallet["id"], "qr_payload": merchant["qr_example"]})
    topup = await pay(wang, "topups", {"payer_account_id": wallet["id"], "phone": "+8613912345678", "amount": "50.00"})

    assert lines(await statement(wang, wallet["id"])) == [
        ("deposit", "Sandbox deposit", "deposit", deposit["id"]),
        ("transfer_out", f"Transfer to {mask_name('Li Wei')}: lunch", "payment", transfer),
        ("bill", "Bill: State Grid Electricity, ref 1234567890", "payment", bill),
        ("qr_payment", f"QR payment: {merchant['name']}", "payment", qr),
        ("topup", "Mobile top-up +8613912345678", "payment", topup),
    ]
    assert lines(await statement(li, li_account["id"])) == [
        ("transfer_in", f"Transfer from {mask_name('Wang Fang')}: lunch", "payment", transfer),
    ]


async def test_the_payee_opens_the_payment_it_was_told_about_and_sees_it_at_home(gateway: httpx.AsyncClient) -> None:
    payer = await register_and_login(gateway, "Wang Fang")
    payee = await register_and_login(gateway, "Li Wei")
    source = await payer.open_account("checking")
    target = await payee.open_account("checking")
    await payer.settled((await payer.deposit(source["id"], "100.00"))["id"])

    payment_id = await pay(
        payer,
        "transfers",
        {"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "12.50", "note": "tea"},
    )
    notice = await notified(payee, "payment_received", payment_id)

    r = await payee.get(f"/v1/payments/{notice['data']['payment_id']}")
    assert r.status_code == 200, r.text
    seen = r.json()
    assert (seen["direction"], seen["status"], seen["amount"], seen["note"]) == (
        "incoming",
        "completed",
        "12.50",
        "tea",
    )
    assert (seen["payer_account_id"], seen["payer_label"]) == (None, mask_name("Wang Fang"))
    assert source["id"] not in r.text
    r = await payee.get("/v1/payments", params={"direction": "incoming"})
    assert [(p["id"], p["direction"]) for p in r.json()["items"]] == [(payment_id, "incoming")]
    assert (await payee.get("/v1/payments", params={"direction": "outgoing"})).json()["items"] == []
    home = (await payee.get("/v1/home")).json()
    assert [(p["id"], p["direction"], p["amount"]) for p in home["recent_activity"]] == [
        (payment_id, "incoming", "12.50")
    ]
    assert [p["direction"] for p in (await payer.get("/v1/home")).json()["recent_activity"]] == ["outgoing"]
