"""Each kind of payment, the completed path: accepted (202, pending), funds held and
captured into the payee or a settlement account in one command, the money moved once."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.payments.harness import (
    BILLER_SETTLEMENT,
    CAPTURED,
    COMPLETED_STORY,
    MERCHANT_SETTLEMENT,
    TOPUP_SETTLEMENT,
    Payer,
    Payments,
    types,
)

pytestmark = pytest.mark.broker


async def assert_completed(payments: Payments, payer: Payer, payment: dict, amount_minor: int) -> None:  # type: ignore[type-arg]
    assert (payment["status"], payment["stage"], payment["reason"]) == ("completed", "completed", None), payment
    assert payment["amount_minor"] == amount_minor
    assert payment["payer_account_id"] == payer.account_id
    assert payment["completed_at"] is not None
    assert types(await payments.story(payment["id"])) == COMPLETED_STORY
    assert types(await payments.hold_facts(payment["id"], CAPTURED[-1])) == CAPTURED


async def test_transfer_to_an_account_moves_the_money_once(payments: Payments) -> None:
    payer = await payments.customer(1_000_00)
    payee = await payments.customer(1_00)

    started = await payments.start(
        "transfers", payer, {"payee_account_id": payee.account_id, "amount": "88.80", "note": "dinner"}
    )
    done = await payments.settled(payer, started["id"])

    await assert_completed(payments, payer, done, 88_80)
    assert (done["kind"], done["payee"]["kind"], done["payee"]["account_id"]) == (
        "transfer",
        "account",
        payee.account_id,
    )
    assert done["note"] == "dinner"
    assert await payments.bank.balances(payer.account_id, payee.account_id) == [(1_000_00 - 88_80, 0), (89_80, 0)]
    assert [p["id"] for p in await payments.listed(payer)] == [done["id"]]


async def test_transfer_to_a_phone_lands_in_the_payees_checking_account(payments: Payments) -> None:
    payer = await payments.customer(500_00)
    payee = await payments.customer()  # its first account, a checking one
    savings = await payments.open_account(payee, "savings")

    done = await payments.pay("transfers", payer, {"payee_phone": payee.customer.phone, "amount": "120.00"})

    await assert_completed(payments, payer, done, 120_00)
    # The payer named a number: they are shown the masked name and that number, not the account.
    assert (done["payee"]["account_id"], done["payee"]["reference"]) == (None, payee.customer.phone)
    assert "Test Customer" not in done["payee"]["label"]  # the holder's name is masked
    assert payee.account_id not in str(await payments.listed(payer))
    assert await payments.bank.balances(payer.account_id, payee.account_id, savings) == [
        (380_00, 0),
        (120_00, 0),
        (0, 0),
    ]


async def test_bill_payment_settles_with_the_biller(payments: Payments) -> None:
    payer = await payments.customer(300_00)
    settlement = await payments.balance(BILLER_SETTLEMENT)

    done = await payments.pay(
        "bills", payer, {"biller_code": "SH-WATER", "bill_reference": "3100012345", "amount": "56.40"}
    )

    await assert_completed(payments, payer, done, 56_40)
    assert (done["kind"], done["payee"]["kind"], done["payee"]["label"], done["payee"]["reference"]) == (
        "bill",
        "biller",
        "Shanghai Water",
        "3100012345",
    )
    assert await payments.balance(payer.account_id) == 300_00 - 56_40
    assert await payments.balance(BILLER_SETTLEMENT) == settlement + 56_40


async def test_qr_payment_takes_the_amount_in_the_code(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    settlement = await payments.balance(MERCHANT_SETTLEMENT)

    done = await payments.pay("qr", payer, {"qr_payload": "sandbank://qr/v1?m=M100001&a=32.00&r=T42"})

    await assert_completed(payments, payer, done, 32_00)
    assert (done["kind"], done["payee"]["kind"], done["payee"]["label"], done["payee"]["reference"]) == (
        "qr",
        "merchant",
        "Lanzhou Noodle House",
        "T42",
    )
    assert await payments.balance(payer.account_id) == 68_00
    assert await payments.balance(MERCHANT_SETTLEMENT) == settlement + 32_00


async def test_qr_payment_without_an_amount_takes_the_one_sent(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    settlement = await payments.balance(MERCHANT_SETTLEMENT)

    done = await payments.pay("qr", payer, {"qr_payload": "sandbank://qr/v1?m=M100004", "amount": "18.50"})

    await assert_completed(payments, payer, done, 18_50)
    assert done["payee"]["label"] == "Pearl River Coffee"
    assert await payments.balance(payer.account_id) == 81_50
    assert await payments.balance(MERCHANT_SETTLEMENT) == settlement + 18_50


async def test_topup_settles_with_the_carrier(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    settlement = await payments.balance(TOPUP_SETTLEMENT)

    done = await payments.pay("topups", payer, {"phone": "139 1234 5678", "amount": "50.00"})

    await assert_completed(payments, payer, done, 50_00)
    assert (done["kind"], done["payee"]["kind"], done["payee"]["reference"]) == ("topup", "mobile", "+8613912345678")
    assert await payments.balance(payer.account_id) == 50_00
    assert await payments.balance(TOPUP_SETTLEMENT) == settlement + 50_00


async def test_a_transfer_between_own_accounts_is_not_limited_as_a_new_payee(payments: Payments) -> None:
    payer = await payments.customer(8_000_00)
    savings = await payments.open_account(payer, "savings")

    done = await payments.pay("transfers", payer, {"payee_account_id": savings, "amount": "6000.00"})

    await assert_completed(payments, payer, done, 6_000_00)
    assert await payments.bank.balances(payer.account_id, savings) == [(2_000_00, 0), (6_000_00, 0)]


async def test_the_whole_saga_carries_the_requests_correlation_id(payments: Payments) -> None:
    payer = await payments.customer(100_00)
    correlation_id = f"corr-{uuid.uuid4()}"

    started = await payments.start(
        "bills",
        payer,
        {"biller_code": "TG-GAS", "bill_reference": "HK12345678", "amount": "9.90"},
        headers={"X-Correlation-ID": correlation_id},
    )
    await payments.settled(payer, started["id"])

    story = await payments.story(started["id"])
    facts = await payments.hold_facts(started["id"], CAPTURED[-1])
    assert {e.correlation_id for e in story + facts} == {correlation_id}
    # Each fact answers the command before it: HoldCaptured is caused by the ReserveFunds that captured it.
    assert all(f.causation_id for f in facts)
