"""What a customer is told about each event, and who is told."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.notifications import notify
from shared.events import insurance as ins
from shared.events import payments as pay
from shared.events import securities as sec

PAYER, PAYEE = "customer-payer", "customer-payee"


def completed(
    kind: str = "transfer", payee_customer_id: str | None = PAYEE, amount: int = 88_80
) -> pay.PaymentCompleted:
    return pay.PaymentCompleted(
        payment_id="p-1",
        customer_id=PAYER,
        kind=kind,
        payer_account_id="acct-payer-0101",
        payee_account_id="acct-payee-0201",
        payee_customer_id=payee_customer_id,
        amount_minor=amount,
        currency="CNY",
        entry_id="e-1",
    )


def test_a_transfer_tells_the_payer_it_was_sent_and_the_payee_it_arrived() -> None:
    sent, received = notify.payment_completed(completed())
    assert (sent.customer_id, sent.kind, received.customer_id, received.kind) == (
        PAYER,
        "payment_sent",
        PAYEE,
        "payment_received",
    )
    assert "88.80 CNY" in sent.body and "88.80 CNY" in received.body
    assert received.data["payment_id"] == "p-1" and received.data["amount_minor"] == 88_80
    assert "payer_account_id" not in received.data  # the payee is not shown the payer's account
    assert "payee_account_id" not in sent.data  # nor the payer the payee's: they may have named a phone
    assert "0201" not in sent.body
    assert "…0201" in received.body


def test_a_move_between_ones_own_accounts_is_one_notification() -> None:
    [moved] = notify.payment_completed(completed(payee_customer_id=PAYER))
    assert (moved.customer_id, moved.kind, moved.title) == (PAYER, "payment_sent", "Money moved")


@pytest.mark.parametrize(
    ("kind", "title"), [("bill", "Bill paid"), ("qr", "Paid by QR code"), ("topup", "Phone topped up")]
)
def test_other_payments_tell_only_the_payer(kind: str, title: str) -> None:
    [sent] = notify.payment_completed(completed(kind=kind, payee_customer_id=None))
    assert (sent.customer_id, sent.title) == (PAYER, title)


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("insufficient_funds", "not enough money"),
        ("class_limit_exceeded", "daily payment limit"),
        ("risk_rejected", "risk checks"),
        ("some_new_reason", "some new reason"),
    ],
)
def test_a_failed_payment_says_why(reason: str, says: str) -> None:
    [failed] = notify.payment_failed(
        pay.PaymentFailed(
            payment_id="p-2",
            customer_id=PAYER,
            kind="transfer",
            amount_minor=666_66,
            currency="CNY",
            reason=reason,
            detail="x",
        )
    )
    assert failed.kind == "payment_failed" and says in failed.body and "666.66 CNY" in failed.body
    assert failed.data["reason"] == reason


@pytest.mark.parametrize(
    ("milli", "shown"), [(1_688_000, "1688.00"), (5_120, "5.12"), (3_849, "3.849"), (4_100, "4.10")]
)
def test_an_order_fill_shows_the_price_as_the_exchange_does(milli: int, shown: str) -> None:
    [filled] = notify.order_filled(
        sec.OrderFilled(
            order_id="o-1",
            customer_id=PAYER,
            symbol="510300",
            side="buy",
            quantity=100,
            price_milli=milli,
            gross_minor=1,
            commission_minor=500,
            stamp_duty_minor=0,
            amount_minor=milli // 10 + 500,
            position_quantity=100,
        )
    )
    assert filled.body.startswith(f"Bought 100 510300 at {shown} CNY")
    assert filled.data["price"] == shown


def cancelled(reason: str, side: str = "buy", released: int = 1_052_00) -> sec.OrderCancelled:
    return sec.OrderCancelled(
        order_id="o-1", customer_id=PAYER, symbol="000001", side=side, reason=reason, released_minor=released
    )


@pytest.mark.parametrize(
    ("event", "kind", "says"),
    [
        (
            cancelled("expired"),
            "order_expired",
            "Your buy order for 000001 was not filled by the end of its trading day and has lapsed. "
            "1052.00 CNY held for it is available again.",
        ),
        (
            cancelled("customer", "sell", 0),
            "order_cancelled",
            "Your sell order for 000001 is cancelled.",
        ),
        (
            cancelled("no_opposite_side"),
            "order_cancelled",
            "Your market buy order for 000001 was cancelled: no sellers at limit-up. "
            "1052.00 CNY held for it is available again.",
        ),
    ],
    ids=["expired", "customer", "sealed"],
)
def test_an_expired_or_cancelled_order_is_told(event: sec.OrderCancelled, kind: str, says: str) -> None:
    [told] = notify.order_cancelled(event)
    assert (told.customer_id, told.kind, told.body) == (PAYER, kind, says)
    assert (told.data["order_id"], told.data["reason"], told.data["released_minor"]) == (
        "o-1",
        event.reason,
        event.released_minor,
    )


def test_a_price_alert_goes_to_each_watcher() -> None:
    alert = sec.PriceAlerted(
        symbol="600519",
        name="Kweichow Moutai",
        direction="down",
        threshold_bp=500,
        change_bp=-612,
        last_price_milli=1_583_000,
        prev_close_milli=1_686_000,
        bank_day="2026-11-25",
    )
    drafts = notify.price_alert(alert, ["a", "b"])
    assert [d.customer_id for d in drafts] == ["a", "b"]
    assert drafts[0].title == "600519 down 6.1%" and "down 6.12%" in drafts[0].body
    assert notify.price_alert(alert, []) == []


def claim_fields() -> dict[str, str]:
    return {
        "claim_id": "c-1",
        "policy_id": "pol-1",
        "customer_id": PAYER,
        "actor_id": "adjuster-1",
        "actor_role": "adjuster",
    }


def test_claim_changes_the_customer_did_not_make_are_told() -> None:
    rejected = ins.ClaimRejected(**claim_fields(), status="rejected", reason="excluded_cause", detail="extreme sports")
    [told] = notify.claim_changed(rejected.TYPE, rejected)
    assert (told.kind, told.data["status"], told.data["reason"]) == (
        "claim_status_changed",
        "rejected",
        "excluded_cause",
    )
    assert "extreme sports" in told.body
    assert ins.ClaimReported.TYPE not in notify.CLAIM_CHANGES  # the customer's own doing
    assert ins.ClaimDocumentSubmitted.TYPE not in notify.CLAIM_CHANGES


def test_policy_issued_and_claim_paid() -> None:
    [issued] = notify.policy_issued(
        ins.PolicyIssued(
            policy_id="pol-1",
            customer_id=PAYER,
            number="PA-1",
            product_code="personal_accident",
            sum_insured_minor=100_000_00,
            premium_minor=60_00,
            currency="CNY",
            starts_on=date(2026, 11, 25),
            ends_on=date(2027, 11, 24),
            covered_from=date(2026, 11, 25),
            entry_id="e",
        )
    )
    assert issued.kind == "policy_issued" and "PA-1" in issued.body and "60.00 CNY" in issued.body
    [paid] = notify.claim_paid(
        ins.ClaimPaid(
            **claim_fields(),
            status="paid",
            credit_id="cr",
            account_id="acct-0101",
            amount_minor=300_00,
            currency="CNY",
            entry_id="e",
        )
    )
    assert (paid.kind, paid.data["amount"]) == ("claim_paid", "300.00")


def test_every_kind_made_is_a_documented_kind() -> None:
    made = {
        d.kind
        for d in notify.payment_completed(completed()) + notify.payment_completed(completed(payee_customer_id=PAYER))
    }
    made.add(notify.stepup_code_sent("c", "ch", "transfer", 600000, "CNY", 300).kind)
    made |= {d.kind for r in ("expired", "customer", "no_opposite_side") for d in notify.order_cancelled(cancelled(r))}
    assert made <= set(notify.KINDS)


def test_the_notification_of_a_step_up_code_does_not_carry_the_code() -> None:
    """Whoever holds the access token reads the notifications: the code goes by SMS only."""
    sent = notify.stepup_code_sent("c", "ch", "transfer", 600000, "CNY", 300)
    assert "code" not in sent.data and sent.data["challenge_id"] == "ch"
    assert not any(ch.isdigit() for ch in sent.body.replace("6000.00", "").replace("5 minutes", ""))


def test_a_step_up_code_notification_carries_its_money_as_payments_do() -> None:
    sent = notify.stepup_code_sent("c", "ch", "transfer", 600000, "CNY", 300)
    paid = notify.payment_completed(completed())[0]
    assert (sent.data["amount"], sent.data["amount_minor"], sent.data["currency"]) == ("6000.00", 600000, "CNY")
    assert {"amount", "amount_minor", "currency"} <= paid.data.keys()
    assert "6000.00 CNY" in sent.body


def test_a_step_up_code_notification_reads_as_the_customer_speaks() -> None:
    """A new device's sign-in moves no money; a bill is a bill payment; times are Beijing's."""
    signing_in = notify.stepup_code_sent("c", "ch", "device_login", 0, "CNY", 300)
    assert signing_in.body.startswith("We sent a code by SMS to sign in on a new device.")
    assert "device_login" not in signing_in.body and "0.00" not in signing_in.body
    assert "approve a bill payment of 12.00 CNY" in notify.stepup_code_sent("c", "ch", "bill", 1200, "CNY", 300).body
    signed_in = notify.new_device_signed_in("c", "ipad", datetime(2026, 12, 4, 7, 37, tzinfo=UTC))
    assert "Until 2026-12-04 15:37 Beijing time" in signed_in.body and "UTC" not in signed_in.body
