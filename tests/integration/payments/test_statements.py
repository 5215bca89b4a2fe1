"""What each side of a payment reads afterwards: its statement line, with a kind and the
payment's id, and the payment itself, which the payee can list and open too."""

from __future__ import annotations

import pytest

from shared.schemas.accounts import mask_name
from tests.integration.payments.harness import Payer, Payments

pytestmark = pytest.mark.broker

NAME = mask_name("Test Customer")  # every customer of this harness


async def line_of(payments: Payments, account_id: str, payment_id: str) -> dict:  # type: ignore[type-arg]
    [line] = [line for line in await payments.bank.statement(account_id) if line["reference_id"] == payment_id]
    return line


def read(line: dict) -> tuple[str, str, str, str]:  # type: ignore[type-arg]
    return (line["kind"], line["direction"], line["description"], line["reference_kind"])


async def test_a_transfer_reads_to_the_payee_on_one_side_and_from_the_payer_on_the_other(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()

    done = await payments.pay(
        "transfers", payer, {"payee_account_id": payee.account_id, "amount": "25.00", "note": "lunch"}
    )

    assert read(await line_of(payments, payer.account_id, done["id"])) == (
        "transfer_out",
        "debit",
        f"Transfer to {NAME}: lunch",
        "payment",
    )
    assert read(await line_of(payments, payee.account_id, done["id"])) == (
        "transfer_in",
        "credit",
        f"Transfer from {NAME}: lunch",
        "payment",
    )


@pytest.mark.parametrize(
    ("path", "body", "kind", "description"),
    [
        (
            "bills",
            {"biller_code": "SH-WATER", "bill_reference": "3100012345", "amount": "5.00"},
            "bill",
            "Bill: Shanghai Water, ref 3100012345",
        ),
        ("qr", {"qr_payload": "sandbank://qr/v1?m=M100001&a=5.00"}, "qr_payment", "QR payment: "),
        ("topups", {"phone": "+8613912345678", "amount": "5.00"}, "topup", "Mobile top-up +8613912345678"),
    ],
)
async def test_a_payment_to_a_business_reads_as_what_was_paid(
    payments: Payments,
    path: str,
    body: dict,
    kind: str,
    description: str,  # type: ignore[type-arg]
) -> None:
    payer = await payments.customer(100_00)

    done = await payments.pay(path, payer, body)

    line = await line_of(payments, payer.account_id, done["id"])
    assert (line["kind"], line["reference_kind"]) == (kind, "payment")
    assert line["description"].startswith(description), line["description"]
    if kind == "qr_payment":
        assert line["description"] == f"QR payment: {done['payee']['label']}"


async def test_the_payee_lists_and_opens_a_transfer_it_received(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()

    done = await payments.pay(
        "transfers", payer, {"payee_account_id": payee.account_id, "amount": "9.00", "note": "tea"}
    )

    seen = await payments.get(payee, done["id"])
    assert (seen["direction"], seen["status"], seen["amount"], seen["note"]) == ("incoming", "completed", "9.00", "tea")
    assert (seen["payer_account_id"], seen["payer_label"]) == (None, NAME)
    assert seen["payee"]["account_id"] == payee.account_id
    assert payer.account_id not in str(seen)
    assert [(p["id"], p["direction"]) for p in await payments.listed(payee)] == [(done["id"], "incoming")]
    assert (await payments.get(payer, done["id"]))["direction"] == "outgoing"


async def test_direction_narrows_the_list(payments: Payments) -> None:
    first, second = await payments.customer(100_00), await payments.customer(100_00)
    sent = await payments.pay("transfers", first, {"payee_account_id": second.account_id, "amount": "1.00"})
    received = await payments.pay("transfers", second, {"payee_account_id": first.account_id, "amount": "2.00"})

    async def ids(payer: Payer, direction: str | None) -> list[str]:
        params = {"direction": direction} if direction else {}
        r = await payments.http.get("/v1/payments", params=params, headers=payer.headers)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert await ids(first, None) == [received["id"], sent["id"]]
    assert await ids(first, "outgoing") == [sent["id"]]
    assert await ids(first, "incoming") == [received["id"]]
    r = await payments.http.get("/v1/payments", params={"direction": "sideways"}, headers=first.headers)
    assert r.status_code == 422


async def test_a_failed_transfer_stays_the_payers_own(payments: Payments) -> None:
    payer, payee = await payments.customer(1_00), await payments.customer()

    failed = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "5.00"})

    assert failed["status"] == "failed"
    assert await payments.listed(payee) == []
    r = await payments.http.get(f"/v1/payments/{failed['id']}", headers=payee.headers)
    assert r.status_code == 404


async def test_a_stranger_cannot_open_a_transfer(payments: Payments) -> None:
    payer, payee, stranger = await payments.customer(10_00), await payments.customer(), await payments.customer()

    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "1.00"})

    r = await payments.http.get(f"/v1/payments/{done['id']}", headers=stranger.headers)
    assert r.status_code == 404
