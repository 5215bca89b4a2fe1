"""What an app shows around a payment, against payments beside a real accounts: confirming
a payee's masked name, saved payees, a completed payment's receipt and the day's limit."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from shared.clock import BANK_TZ
from tests.integration.payments.harness import Payer, Payments

pytestmark = pytest.mark.broker
MASKED = "*" * len("Test Custome") + "r"


async def look_up(payments: Payments, payer: Payer, **query: str) -> httpx.Response:
    return await payments.http.get("/v1/payees/lookup", params=query, headers=payer.headers)


async def save(payments: Payments, payer: Payer, body: dict[str, Any]) -> httpx.Response:
    return await payments.http.post("/v1/payees", json=body, headers=payer.headers)


# --- confirming a payee ---------------------------------------------------------------------------


async def test_a_phone_look_up_shows_the_masked_name_and_never_an_account_or_customer(payments: Payments) -> None:
    payer, payee = await payments.customer(), await payments.customer()

    r = await look_up(payments, payer, phone=payee.customer.phone)

    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "phone",
        "name": MASKED,
        "phone": payee.customer.phone,
        "account_id": None,
        "paid_before": False,
    }
    assert payee.account_id not in r.text and payee.id not in r.text


async def test_a_look_up_of_a_securities_cash_account_says_it_cannot_be_paid(payments: Payments) -> None:
    """As a transfer into it answers: a look-up does not confirm a payee no payment can reach."""
    payer, payee = await payments.customer(), await payments.customer()
    securities = await payments.open_account(payee, "securities_cash")

    r = await look_up(payments, payer, account_id=securities)

    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/account-cannot-be-paid")
    assert MASKED not in r.text


async def test_a_look_up_says_whether_the_customer_has_paid_the_payee_before(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    done = await payments.pay("transfers", payer, {"payee_phone": payee.customer.phone, "amount": "1.00"})
    assert done["status"] == "completed", done

    by_phone = await look_up(payments, payer, phone=payee.customer.phone)
    by_account = await look_up(payments, payer, account_id=payee.account_id)

    assert by_phone.json()["paid_before"] is True
    assert by_account.json() == {
        "kind": "account",
        "name": MASKED,
        "phone": None,
        "account_id": payee.account_id,
        "paid_before": True,
    }


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ({"phone": "+8613000000000"}, 404, "no payee has this phone number"),
        ({"account_id": "no-such-account"}, 404, "payee account no-such-account was not found"),
        ({"account_id": "internal:biller-settlement"}, 404, "payee account internal:biller-settlement was not found"),
        ({"phone": "not a number"}, 422, "phone"),
        ({}, 422, "exactly one of account_id or phone"),
        ({"phone": "+8613800000002", "account_id": "a-1"}, 422, "exactly one of account_id or phone"),
    ],
)
async def test_an_unknown_or_malformed_payee_is_a_problem(
    payments: Payments, query: dict[str, str], status: int, says: str
) -> None:
    payer = await payments.customer()

    r = await look_up(payments, payer, **query)

    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.json()["detail"]


async def test_look_ups_past_the_allowance_are_refused_with_retry_after(payments: Payments) -> None:
    payer, payee = await payments.customer(), await payments.customer()
    burst = payments.app.state.lookups.burst

    answers = [(await look_up(payments, payer, phone=payee.customer.phone)).status_code for _ in range(burst)]
    refused = await look_up(payments, payer, phone=payee.customer.phone)
    other = await look_up(payments, await payments.customer(), phone=payee.customer.phone)

    assert answers == [200] * burst
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["type"].endswith("/rate-limited")
    assert other.status_code == 200


async def test_saving_payees_spends_the_same_allowance_as_looking_them_up(payments: Payments) -> None:
    payer, payee = await payments.customer(), await payments.customer()
    for _ in range(payments.app.state.lookups.burst):
        assert (await look_up(payments, payer, phone=payee.customer.phone)).status_code == 200

    r = await save(payments, payer, {"nickname": "Mum", "phone": payee.customer.phone})

    assert r.status_code == 429, r.text
    assert (await payments.http.get("/v1/payees", headers=payer.headers)).json()["items"] == []


# --- saved payees -----------------------------------------------------------------------------


async def test_saved_payees_are_listed_newest_first_a_page_at_a_time(payments: Payments) -> None:
    payer, mum, landlord = await payments.customer(), await payments.customer(), await payments.customer()

    first = await save(payments, payer, {"nickname": "Mum", "phone": mum.customer.phone})
    second = await save(payments, payer, {"nickname": "Landlord", "account_id": landlord.account_id})
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert second.headers["location"] == f"/v1/payees/{second.json()['id']}"
    page = (await payments.http.get("/v1/payees", params={"limit": 1}, headers=payer.headers)).json()
    rest = (
        await payments.http.get("/v1/payees", params={"limit": 1, "cursor": page["next_cursor"]}, headers=payer.headers)
    ).json()

    assert [p["nickname"] for p in page["items"] + rest["items"]] == ["Landlord", "Mum"]
    assert rest["next_cursor"] is None
    saved_mum = rest["items"][0]
    assert (saved_mum["kind"], saved_mum["phone"], saved_mum["account_id"], saved_mum["name"]) == (
        "phone",
        mum.customer.phone,
        None,
        MASKED,
    )
    assert mum.account_id not in str(rest)
    assert page["items"][0]["kind"] == "account" and page["items"][0]["account_id"] == landlord.account_id


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"nickname": "Nobody", "phone": "+8613000000000"}, 422, "unknown-payee"),
        ({"nickname": "Nobody", "account_id": "no-such-account"}, 422, "unknown-payee"),
        ({"nickname": "Both", "phone": "+8613800000002", "account_id": "a-1"}, 422, "invalid-payee"),
        ({"nickname": "Neither"}, 422, "invalid-payee"),
        ({"nickname": "", "phone": "+8613800000002"}, 422, "validation-error"),
        ({"nickname": "   ", "phone": "+8613800000002"}, 422, "invalid-nickname"),
    ],
)
async def test_a_payee_that_cannot_be_paid_is_not_saved(
    payments: Payments, body: dict[str, Any], status: int, problem: str
) -> None:
    payer = await payments.customer()

    r = await save(payments, payer, body)

    assert r.status_code == status, r.text
    assert r.json()["type"].endswith(f"/{problem}")
    assert (await payments.http.get("/v1/payees", headers=payer.headers)).json()["items"] == []


async def test_the_same_payee_saved_twice_is_a_conflict(payments: Payments) -> None:
    payer, payee = await payments.customer(), await payments.customer()
    assert (await save(payments, payer, {"nickname": "Mum", "phone": payee.customer.phone})).status_code == 201

    again = await save(payments, payer, {"nickname": "Mother", "phone": payee.customer.phone})

    assert again.status_code == 409 and again.json()["type"].endswith("/payee-exists")


async def test_another_customers_saved_payee_is_not_found_and_stays(payments: Payments) -> None:
    owner, stranger, payee = await payments.customer(), await payments.customer(), await payments.customer()
    saved = (await save(payments, owner, {"nickname": "Mum", "phone": payee.customer.phone})).json()

    seen = await payments.http.get(f"/v1/payees/{saved['id']}", headers=stranger.headers)
    deleted = await payments.http.delete(f"/v1/payees/{saved['id']}", headers=stranger.headers)

    assert (seen.status_code, deleted.status_code) == (404, 404)
    assert (await payments.http.get("/v1/payees", headers=stranger.headers)).json()["items"] == []
    assert (await payments.http.get(f"/v1/payees/{saved['id']}", headers=owner.headers)).status_code == 200


async def test_a_deleted_payee_is_gone(payments: Payments) -> None:
    payer, payee = await payments.customer(), await payments.customer()
    saved = (await save(payments, payer, {"nickname": "Mum", "phone": payee.customer.phone})).json()

    deleted = await payments.http.delete(f"/v1/payees/{saved['id']}", headers=payer.headers)

    assert deleted.status_code == 204
    assert (await payments.http.get(f"/v1/payees/{saved['id']}", headers=payer.headers)).status_code == 404
    assert (await payments.http.get("/v1/payees", headers=payer.headers)).json()["items"] == []


# --- receipts ---------------------------------------------------------------------------------------


async def test_a_completed_payment_has_a_receipt_with_both_parties_masked(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    done = await payments.pay(
        "transfers", payer, {"payee_phone": payee.customer.phone, "amount": "12.30", "note": "tea"}
    )

    r = await payments.http.get(f"/v1/payments/{done['id']}/receipt", headers=payer.headers)

    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["payment_id"] == done["id"] and receipt["status"] == "completed"
    assert receipt["direction"] == "outgoing"
    assert (receipt["amount"], receipt["amount_minor"], receipt["currency"]) == ("12.30", 12_30, "CNY")
    assert receipt["payer"] == {"name": MASKED, "account": "****" + payer.account_id[-4:]}
    assert receipt["payee"] == {"name": MASKED, "account": None}
    assert (receipt["reference"], receipt["note"]) == (payee.customer.phone, "tea")
    assert receipt["entry_id"] and receipt["completed_at"] == done["completed_at"]
    for secret in (payer.account_id, payee.account_id, payer.id, payee.id):
        assert secret not in r.text


async def test_a_receipt_reads_as_plain_text_to_share(payments: Payments) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "5.00"})

    r = await payments.http.get(f"/v1/payments/{done['id']}/receipt", params={"format": "text"}, headers=payer.headers)

    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == "Sandbank payment receipt"
    assert f"Payment    {done['id']}" in lines and "Amount     5.00 CNY" in lines
    assert f"To         {MASKED}  ****{payee.account_id[-4:]}" in lines
    assert payee.account_id not in r.text and "(Beijing time)" in lines[-1]


async def test_a_failed_payment_has_no_receipt(payments: Payments) -> None:
    payer, payee = await payments.customer(1_000_00), await payments.customer()
    failed = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "666.66"})
    assert failed["status"] == "failed"

    r = await payments.http.get(f"/v1/payments/{failed['id']}/receipt", headers=payer.headers)

    assert r.status_code == 409 and r.json()["type"].endswith("/payment-not-completed")


async def test_the_payee_gets_a_receipt_of_the_money_received_without_the_payers_account(
    payments: Payments,
) -> None:
    payer, payee = await payments.customer(100_00), await payments.customer()
    done = await payments.pay("transfers", payer, {"payee_phone": payee.customer.phone, "amount": "1.00"})
    assert (await payments.http.get(f"/v1/payments/{done['id']}/receipt", headers=payer.headers)).status_code == 200

    r = await payments.http.get(f"/v1/payments/{done['id']}/receipt", headers=payee.headers)

    assert r.status_code == 200, r.text
    receipt = r.json()
    assert (receipt["direction"], receipt["amount"]) == ("incoming", "1.00")
    assert receipt["payer"] == {"name": MASKED, "account": None}
    assert receipt["payee"] == {"name": MASKED, "account": "****" + payee.account_id[-4:]}
    for secret in (payer.account_id, payee.account_id, payer.id, payee.id):
        assert secret not in r.text
    stranger = await payments.customer()
    r = await payments.http.get(f"/v1/payments/{done['id']}/receipt", headers=stranger.headers)
    assert r.status_code == 404, r.text
    missing = await payments.http.get(f"/v1/payments/{uuid.uuid4()}/receipt", headers=payer.headers)
    assert missing.status_code == 404


async def test_the_payee_of_a_failed_payment_learns_nothing_of_it(payments: Payments) -> None:
    payer, payee = await payments.customer(1_000_00), await payments.customer()
    failed = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "666.66"})
    assert failed["status"] == "failed"

    r = await payments.http.get(f"/v1/payments/{failed['id']}/receipt", headers=payee.headers)

    assert r.status_code == 404, r.text


# --- the day's limits --------------------------------------------------------------------------


async def test_a_class_ii_customer_sees_what_today_has_used_of_the_daily_limit(payments: Payments) -> None:
    payer, payee = await payments.customer(2_000_00, kyc_class="II"), await payments.customer()
    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "300.00"})
    assert done["status"] == "completed"

    r = await payments.http.get("/v1/payments/limits", headers=payer.headers)

    assert r.status_code == 200, r.text
    limits = r.json()
    assert limits["kyc_class"] == "II"
    assert (limits["per_payment_minor"], limits["daily_minor"]) == (10_000_00, 10_000_00)
    assert (limits["used_today"], limits["used_today_minor"]) == ("300.00", 300_00)
    assert (limits["remaining_today"], limits["remaining_today_minor"]) == ("9700.00", 9_700_00)
    assert limits["payable_now_minor"] == 9_700_00
    midnight = datetime.combine(date.fromisoformat(limits["day"]) + timedelta(days=1), time(0), BANK_TZ)
    assert datetime.fromisoformat(limits["resets_at"]) == midnight


async def test_moving_money_between_ones_own_accounts_uses_none_of_the_daily_limit(payments: Payments) -> None:
    payer = await payments.customer(2_000_00, kyc_class="II")
    savings = await payments.open_account(payer, "savings")
    done = await payments.pay("transfers", payer, {"payee_account_id": savings, "amount": "500.00"})
    assert done["status"] == "completed"

    limits = (await payments.http.get("/v1/payments/limits", headers=payer.headers)).json()

    assert limits["used_today_minor"] == 0 and limits["remaining_today_minor"] == 10_000_00


async def test_a_class_i_customer_has_a_per_payment_limit_and_no_daily_one(payments: Payments) -> None:
    payer = await payments.customer(kyc_class="I")

    limits = (await payments.http.get("/v1/payments/limits", headers=payer.headers)).json()

    assert (limits["kyc_class"], limits["per_payment_minor"]) == ("I", 50_000_00)
    assert (limits["daily"], limits["daily_minor"], limits["remaining_today_minor"]) == (None, None, None)
    assert limits["payable_now_minor"] == 50_000_00
