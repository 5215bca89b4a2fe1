"""Each failure path of a payment: it ends failed with a reason the customer can read, and
whatever was held is released: the payer keeps every fen."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from services.accounts.store import Customer as AccountsCustomer
from shared.events import accounts as acc
from shared.events import payments as ev
from tests.integration.payments.harness import BILLER_SETTLEMENT, RELEASED, Payer, Payments, types

pytestmark = pytest.mark.broker


def assert_failed(payment: dict, reason: str) -> None:  # type: ignore[type-arg]
    assert (payment["status"], payment["stage"], payment["reason"]) == ("failed", "failed", reason), payment
    assert payment["detail"]
    assert payment["completed_at"] is not None


async def assert_untouched(payments: Payments, payer: Payer, balance_minor: int) -> None:
    assert await payments.bank.balances(payer.account_id) == [(balance_minor, 0)]


async def test_insufficient_funds_fail_the_reservation(payments: Payments) -> None:
    payer = await payments.customer(10_00)
    payee = await payments.customer()

    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "20.00"})

    assert_failed(done, "insufficient_funds")
    assert types(await payments.story(done["id"])) == [ev.PaymentRequested.TYPE, ev.PaymentFailed.TYPE]
    assert types(await payments.hold_facts(done["id"], acc.ReservationRejected.TYPE)) == [acc.ReservationRejected.TYPE]
    await assert_untouched(payments, payer, 10_00)
    assert await payments.balance(payee.account_id) == 0


async def test_a_class_ii_payment_over_the_per_payment_limit_is_refused_before_any_hold(
    payments: Payments,
) -> None:
    payer = await payments.customer(20_000_00, kyc_class="II")
    payee = await payments.customer()

    r = await payments.post(
        "transfers",
        payer,
        {"payer_account_id": payer.account_id, "payee_account_id": payee.account_id, "amount": "10000.01"},
    )

    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/limit-exceeded")
    assert "class II" in r.json()["detail"]
    assert await payments.listed(payer) == []
    await assert_untouched(payments, payer, 20_000_00)


async def test_an_upgrade_payments_has_not_heard_of_yet_does_not_refuse_the_payment(payments: Payments) -> None:
    """Payments keeps accounts' directory entry of the payer's account (with the class) for a
    while; accounts upgrades the class at once. A payment the kept class would refuse is
    refused only if accounts' class now refuses it too, so it agrees with the limits screen."""
    payer = await payments.customer(20_000_00, kyc_class="II")
    savings = await payments.open_account(payer, "savings")  # the payer's own: no new-payee rule
    body = {"payer_account_id": payer.account_id, "payee_account_id": savings, "amount": "15000.00"}
    refused = await payments.post("transfers", payer, body)
    assert refused.status_code == 422, refused.text  # and the class II entry is kept now
    # Accounts' class changes with no event (as in the moment before payments consumes one).
    accounts = payments.bank.app.state.runtime.db
    async with accounts.write() as session, session.begin():
        await session.execute(update(AccountsCustomer).where(AccountsCustomer.id == payer.id).values(kyc_class="I"))

    limits = await payments.http.get("/v1/payments/limits", headers=payer.headers)
    done = await payments.pay("transfers", payer, {"payee_account_id": savings, "amount": "15000.00"})

    assert limits.json()["per_payment_minor"] == 50_000_00, limits.text
    assert done["status"] == "completed", done
    assert await payments.balance(savings) == 15_000_00


async def test_a_class_ii_customer_over_the_daily_limit_fails_at_the_reservation(payments: Payments) -> None:
    payer = await payments.customer(12_000_00, kyc_class="II")
    payee = await payments.customer()
    to_payee = {"payee_account_id": payee.account_id}
    for _ in range(2):  # 5,000 + 5,000: the class II daily outflow limit of 10,000 reached exactly
        assert (await payments.pay("transfers", payer, {**to_payee, "amount": "5000.00"}))["status"] == "completed"

    done = await payments.pay("transfers", payer, {**to_payee, "amount": "0.01"})

    assert_failed(done, "class_limit_exceeded")
    assert types(await payments.hold_facts(done["id"], acc.ReservationRejected.TYPE)) == [acc.ReservationRejected.TYPE]
    await assert_untouched(payments, payer, 2_000_00)
    assert await payments.balance(payee.account_id) == 10_000_00


async def test_a_transfer_of_the_magic_amount_is_rejected_by_risk_and_released(payments: Payments) -> None:
    payer = await payments.customer(1_000_00)
    payee = await payments.customer()

    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "666.66"})

    assert_failed(done, "risk_rejected")
    story = await payments.story(done["id"])
    assert types(story) == [
        ev.PaymentRequested.TYPE,
        ev.PaymentFundsReserved.TYPE,
        ev.PaymentRiskRejected.TYPE,
        ev.PaymentFailed.TYPE,
    ]
    assert story[2].data["rule"] == "sandbox_magic_amount"
    assert types(await payments.hold_facts(done["id"], acc.HoldReleased.TYPE)) == RELEASED
    await assert_untouched(payments, payer, 1_000_00)
    assert await payments.balance(payee.account_id) == 0


async def test_a_large_first_payment_to_a_new_payee_is_rejected_by_risk(payments: Payments) -> None:
    payer = await payments.customer(6_000_00)
    payee = await payments.customer()

    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "5000.01"})

    assert_failed(done, "risk_rejected")
    assert (await payments.story(done["id"]))[2].data["rule"] == "new_payee_threshold"
    assert types(await payments.hold_facts(done["id"], acc.HoldReleased.TYPE)) == RELEASED
    await assert_untouched(payments, payer, 6_000_00)


async def test_the_sandbox_failing_biller_fails_after_the_hold_is_taken(payments: Payments) -> None:
    payer = await payments.customer(200_00)
    settlement = await payments.balance(BILLER_SETTLEMENT)

    done = await payments.pay(
        "bills", payer, {"biller_code": "SANDBOX-FAIL", "bill_reference": "any-ref", "amount": "42.00"}
    )

    assert_failed(done, "payee_unavailable")
    assert types(await payments.story(done["id"])) == [
        ev.PaymentRequested.TYPE,
        ev.PaymentFundsReserved.TYPE,
        ev.PaymentRiskApproved.TYPE,
        ev.PaymentFailed.TYPE,
    ]
    # The compensation is visible: the hold was taken, then released, never captured.
    assert types(await payments.hold_facts(done["id"], acc.HoldReleased.TYPE)) == RELEASED
    await assert_untouched(payments, payer, 200_00)
    assert await payments.balance(BILLER_SETTLEMENT) == settlement


async def test_a_payee_over_the_class_iii_balance_cap_is_refused_at_capture_and_released(
    payments: Payments,
) -> None:
    payer = await payments.customer(1_000_00)
    payee = await payments.customer(1_950_00, kyc_class="III")  # the class III cap is 2,000

    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "100.00"})

    assert_failed(done, "payee_unavailable")
    assert "2000.00" in done["detail"]
    facts = await payments.hold_facts(done["id"], acc.HoldReleased.TYPE)
    # Held and refused at capture in one command, then released: the compensation shows.
    assert types(facts) == [acc.CaptureRejected.TYPE, acc.HoldReleased.TYPE]
    assert facts[0].data["reason"] == "balance_cap_exceeded"
    await assert_untouched(payments, payer, 1_000_00)
    assert await payments.bank.balances(payee.account_id) == [(1_950_00, 0)]


async def test_a_payment_over_the_velocity_limit_is_rejected_by_risk(
    payments: Payments, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The velocity rule counts the payer's own earlier payments in the window, as the
    database keeps their times, on either backend."""
    ctx = payments.app.state.ctx
    policy = replace(ctx.saga.policy, velocity_max=2, velocity_window=timedelta(seconds=600))
    monkeypatch.setattr(ctx, "saga", replace(ctx.saga, policy=policy))
    payer = await payments.customer(100_00)
    payee = await payments.customer()
    for _ in range(2):
        done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "1.00"})
        assert done["status"] == "completed", done

    done = await payments.pay("transfers", payer, {"payee_account_id": payee.account_id, "amount": "1.00"})

    assert_failed(done, "risk_rejected")
    assert (await payments.story(done["id"]))[2].data["rule"] == "velocity"
    assert await payments.bank.balances(payer.account_id) == [(98_00, 0)]
