"""What a banking app does around a payment, through the gateway: confirm the payee's
name before paying, keep an address book of payees, share a receipt, show the day's
remaining limit."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def funded(client: httpx.AsyncClient, amount: str, name: str = "Test Customer") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(client, name)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(phone: Phone, body: dict[str, Any]) -> dict[str, Any]:
    r = await phone.post("/v1/payments/transfers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 202, r.text

    async def done() -> dict[str, Any] | None:
        payment = (await phone.get(f"/v1/payments/{r.json()['id']}")).json()
        return payment if payment["status"] != "pending" else None

    payment: dict[str, Any] = await eventually(done)
    return payment


async def test_an_app_confirms_the_payee_pays_and_shares_the_receipt(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway, "500.00")
    payee, payee_account = await funded(gateway, "1.00", name="Wang Xiaoming")

    confirm = await payer.get("/v1/payees/lookup", params={"phone": payee.phone})
    assert confirm.status_code == 200, confirm.text
    assert confirm.json() == {
        "kind": "phone",
        "name": "*" * len("Wang Xiaomin") + "g",
        "phone": payee.phone,
        "account_id": None,
        "paid_before": False,
    }
    paid = await transfer(payer, {"payer_account_id": account["id"], "payee_phone": payee.phone, "amount": "88.00"})
    assert paid["status"] == "completed", paid
    again = await payer.get("/v1/payees/lookup", params={"phone": payee.phone})
    receipt = await payer.get(f"/v1/payments/{paid['id']}/receipt")

    assert again.json()["paid_before"] is True
    assert receipt.status_code == 200, receipt.text
    shared = receipt.json()
    assert (shared["payment_id"], shared["status"], shared["amount"]) == (paid["id"], "completed", "88.00")
    assert shared["payee"]["name"] == confirm.json()["name"] and shared["reference"] == payee.phone
    for secret in (payee_account["id"], payee.customer_id, payer.customer_id, account["id"]):
        assert secret not in receipt.text
    as_text = await payer.get(f"/v1/payments/{paid['id']}/receipt", params={"format": "text"})
    assert as_text.text.startswith("Sandbank payment receipt\n") and "Amount     88.00 CNY" in as_text.text
    received = await payee.get(f"/v1/payments/{paid['id']}/receipt")
    assert received.status_code == 200, received.text
    assert received.json()["direction"] == "incoming" and received.json()["payer"]["account"] is None
    assert account["id"] not in received.text and payer.customer_id not in received.text


async def test_an_unknown_payee_is_not_found(customer: Phone) -> None:
    r = await customer.get("/v1/payees/lookup", params={"phone": "+8613000000000"})

    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "no payee has this phone number" in r.json()["detail"]


async def test_walking_a_list_of_numbers_runs_out_of_look_ups(customer: Phone) -> None:
    answers = [
        (await customer.get("/v1/payees/lookup", params={"phone": f"+861380000{n:04d}"})).status_code for n in range(10)
    ]
    refused = await customer.get("/v1/payees/lookup", params={"phone": "+8613800009999"})

    assert set(answers) <= {200, 404}  # the sandbox's demo customers have numbers of this kind
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["type"].endswith("/rate-limited")


async def test_an_address_book_of_payees_is_the_customers_own(gateway: httpx.AsyncClient) -> None:
    owner, stranger = await register_and_login(gateway), await register_and_login(gateway)
    mum, _ = await funded(gateway, "1.00", name="Li Hua")
    _, landlord_account = await funded(gateway, "1.00")

    first = await owner.post("/v1/payees", json={"nickname": "Mum", "phone": mum.phone})
    second = await owner.post("/v1/payees", json={"nickname": "Landlord", "account_id": landlord_account["id"]})
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    twice = await owner.post("/v1/payees", json={"nickname": "Mother", "phone": mum.phone})
    listed = (await owner.get("/v1/payees")).json()
    peeked = await stranger.get(f"/v1/payees/{first.json()['id']}")
    removed_by_stranger = await gateway.delete(f"/v1/payees/{first.json()['id']}", headers=stranger.auth)
    removed = await gateway.delete(f"/v1/payees/{first.json()['id']}", headers=owner.auth)

    assert twice.status_code == 409
    assert [p["nickname"] for p in listed["items"]] == ["Landlord", "Mum"]
    assert listed["items"][1]["name"] == "*****a" and listed["items"][1]["account_id"] is None
    assert (peeked.status_code, removed_by_stranger.status_code, removed.status_code) == (404, 404, 204)
    assert [p["nickname"] for p in (await owner.get("/v1/payees")).json()["items"]] == ["Landlord"]


async def test_the_app_shows_what_remains_of_the_days_limit(gateway: httpx.AsyncClient) -> None:
    payer, account = await funded(gateway, "3000.00")
    _, other = await funded(gateway, "1.00")
    before = (await payer.get("/v1/payments/limits")).json()
    paid = await transfer(
        payer, {"payer_account_id": account["id"], "payee_account_id": other["id"], "amount": "1200.00"}
    )
    assert paid["status"] == "completed", paid

    after = await payer.get("/v1/payments/limits")

    assert after.status_code == 200, after.text
    assert (before["kyc_class"], before["daily"], before["remaining_today"]) == ("II", "10000.00", "10000.00")
    assert (after.json()["used_today"], after.json()["remaining_today"]) == ("1200.00", "8800.00")
