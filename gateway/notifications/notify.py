"""What a customer is told, and when: the services' events turned into notifications.

Pure functions of an event; the consumer (gateway/notifications/consumer.py) stores what they return
in the same transaction that marks the event handled, then wakes the open streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.clock import BANK_TZ
from shared.events import accounts as acc
from shared.events import insurance as ins
from shared.events import payments as pay
from shared.events import securities as sec
from shared.money import format_minor


@dataclass(frozen=True)
class Draft:
    customer_id: str
    kind: str
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


# Kinds a phone can switch on (also the `kind` values of GET /v1/notifications).
KINDS = (
    "payment_sent",
    "payment_received",
    "payment_failed",
    "order_filled",
    "order_partially_filled",
    "order_rejected",
    "order_expired",
    "order_cancelled",
    "price_alert",
    "policy_issued",
    "policy_purchase_failed",
    "policy_status_changed",
    "premium_refunded",
    "claim_status_changed",
    "claim_paid",
    "stepup_code",
    "account_freeze_changed",
    "kyc_decided",
    "new_device_signed_in",
)

# Kinds pushed whatever the customer's preferences say: a code sent for a payment they did
# not start, or a device they do not know signed in, is how they learn someone else is in
# their account (and that someone could otherwise turn the alert off from that device).
ALWAYS_PUSHED = frozenset({"stepup_code", "new_device_signed_in"})


def pushed(kind: str, muted: frozenset[str] | set[str]) -> bool:
    """Whether a notification of `kind` goes to the customer's devices: every kind does,
    unless they muted it, and a security kind always does. The in-app list keeps them all."""
    return kind in ALWAYS_PUSHED or kind not in muted


PAYMENT_FAILURES = {
    "insufficient_funds": "there was not enough money in the account",
    "class_limit_exceeded": "it would exceed your daily payment limit",
    "risk_rejected": "our risk checks stopped it",
    "payee_unavailable": "the payee could not accept it",
    "payer_unavailable": "your account could not be debited",
    "timed_out": "the bank did not answer in time; nothing was taken",
    "account_frozen": "the account is frozen",
}

ORDER_REJECTIONS = {
    "insufficient_funds": "not enough cash in your securities account",
    "limit_exceeded": "it would exceed your daily limit",
    "price_above_reservation": "the price moved above what was reserved",
    "proceeds_below_fees": "the proceeds would not cover the fees",
    "timeout": "the bank did not answer in time",
}

SENT_TITLES = {"transfer": "Money sent", "bill": "Bill paid", "qr": "Paid by QR code", "topup": "Phone topped up"}

# Claim transitions the customer did not make themselves, and how to say them.
CLAIM_CHANGES: dict[str, str] = {
    ins.ClaimReferredToAdjuster.TYPE: "is being reviewed by a claims adjuster",
    ins.ClaimInfoRequested.TYPE: "needs more information from you",
    ins.ClaimApproved.TYPE: "was approved; the payout is on its way",
    ins.ClaimRejected.TYPE: "was rejected",
    ins.ClaimPayoutFailed.TYPE: "was approved but the payout failed",
    ins.ClaimClosed.TYPE: "is closed",
}


def _money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


def _price(milli: int) -> str:
    """A price in milli-yuan as the exchange shows it: two decimals, three for ETF ticks."""
    text = f"{milli // 1000}.{milli % 1000:03d}"
    return text[:-1] if milli % 10 == 0 else text


def _tail(account_id: str) -> str:
    return f"…{account_id[-4:]}" if len(account_id) > 4 else account_id


def payment_completed(m: pay.PaymentCompleted) -> list[Draft]:
    data = {
        "payment_id": m.payment_id,
        "payment_kind": m.kind,
        "amount": format_minor(m.amount_minor, m.currency),
        "amount_minor": m.amount_minor,
        "currency": m.currency,
        "payer_account_id": m.payer_account_id,
        "payee_account_id": m.payee_account_id,
    }
    amount = _money(m.amount_minor, m.currency)
    if m.kind == "transfer" and m.payee_customer_id == m.customer_id:
        body = f"You moved {amount} from account {_tail(m.payer_account_id)} to {_tail(m.payee_account_id)}."
        return [Draft(m.customer_id, "payment_sent", "Money moved", body, data)]
    # Another customer's account is not the payer's to learn: they may have named a phone number.
    sent_data = {k: v for k, v in data.items() if k != "payee_account_id"} if m.payee_customer_id else data
    sent = Draft(
        m.customer_id,
        "payment_sent",
        SENT_TITLES.get(m.kind, "Payment made"),
        f"You paid {amount} from account {_tail(m.payer_account_id)}.",
        sent_data,
    )
    if m.kind != "transfer" or not m.payee_customer_id:
        return [sent]
    received = Draft(
        m.payee_customer_id,
        "payment_received",
        "Money received",
        f"You received {amount} into account {_tail(m.payee_account_id)}.",
        {k: v for k, v in data.items() if k != "payer_account_id"},
    )
    return [sent, received]


FREEZE_MODES = {"full": "no money can go in or out", "outflows": "no money can go out; money can still come in"}


def account_frozen(m: acc.AccountFrozen) -> list[Draft]:
    if m.customer_id is None:
        return []
    return [
        Draft(
            m.customer_id,
            "account_freeze_changed",
            "Account frozen",
            f"Your account is frozen: {FREEZE_MODES[m.mode]}. Reason: {m.reason}",
            {"account_id": m.account_id, "frozen": True, "mode": m.mode, "reason": m.reason},
        )
    ]


def account_unfrozen(m: acc.AccountUnfrozen) -> list[Draft]:
    if m.customer_id is None:
        return []
    return [
        Draft(
            m.customer_id,
            "account_freeze_changed",
            "Account unfrozen",
            "The freeze on your account is lifted: payments in and out work again.",
            {"account_id": m.account_id, "frozen": False, "mode": None, "reason": m.reason},
        )
    ]


def payment_failed(m: pay.PaymentFailed) -> list[Draft]:
    why = PAYMENT_FAILURES.get(m.reason, m.reason.replace("_", " "))
    return [
        Draft(
            m.customer_id,
            "payment_failed",
            "Payment failed",
            f"Your payment of {_money(m.amount_minor, m.currency)} did not go through: {why}.",
            {
                "payment_id": m.payment_id,
                "payment_kind": m.kind,
                "amount": format_minor(m.amount_minor, m.currency),
                "amount_minor": m.amount_minor,
                "currency": m.currency,
                "reason": m.reason,
                "detail": m.detail,
            },
        )
    ]


def order_filled(m: sec.OrderFilled) -> list[Draft]:
    verb = "Bought" if m.side == "buy" else "Sold"
    return [
        Draft(
            m.customer_id,
            "order_filled",
            "Order filled",
            f"{verb} {m.quantity} {m.symbol} at {_price(m.price_milli)} CNY "
            f"({'paid' if m.side == 'buy' else 'received'} {_money(m.amount_minor, 'CNY')}, fees included).",
            {
                "order_id": m.order_id,
                "symbol": m.symbol,
                "side": m.side,
                "quantity": m.quantity,
                "price": _price(m.price_milli),
                "amount": format_minor(m.amount_minor),
                "amount_minor": m.amount_minor,
                "position_quantity": m.position_quantity,
            },
        )
    ]


def order_partially_filled(m: sec.OrderPartiallyFilled) -> list[Draft]:
    """A part of an order settled; the rest rests on the book, or is cancelled."""
    verb = "Bought" if m.side == "buy" else "Sold"
    return [
        Draft(
            m.customer_id,
            "order_partially_filled",
            "Order partly filled",
            f"{verb} {m.quantity} {m.symbol} at {_price(m.price_milli)} CNY on average "
            f"({'paid' if m.side == 'buy' else 'received'} {_money(m.amount_minor, 'CNY')}, fees included); "
            f"{m.filled_quantity} of {m.filled_quantity + m.remaining_quantity} filled so far.",
            {
                "order_id": m.order_id,
                "symbol": m.symbol,
                "side": m.side,
                "quantity": m.quantity,
                "price": _price(m.price_milli),
                "amount": format_minor(m.amount_minor),
                "amount_minor": m.amount_minor,
                "filled_quantity": m.filled_quantity,
                "remaining_quantity": m.remaining_quantity,
                "position_quantity": m.position_quantity,
            },
        )
    ]


def order_rejected(m: sec.OrderRejected) -> list[Draft]:
    why = ORDER_REJECTIONS.get(m.reason, m.reason.replace("_", " "))
    return [
        Draft(
            m.customer_id,
            "order_rejected",
            "Order rejected",
            f"Your {m.side} order for {m.symbol} was rejected: {why}.",
            {"order_id": m.order_id, "symbol": m.symbol, "side": m.side, "reason": m.reason, "detail": m.detail},
        )
    ]


def order_cancelled(m: sec.OrderCancelled) -> list[Draft]:
    """A day order that lapsed unfilled (`order_expired`), or a cancel completed: the
    customer's own, or a market order the exchange cancelled for want of an opposite side."""
    released = f" {_money(m.released_minor, 'CNY')} held for it is available again." if m.released_minor else ""
    if m.reason == "expired":
        kind, title = "order_expired", "Order expired"
        body = f"Your {m.side} order for {m.symbol} was not filled by the end of its trading day and has lapsed."
    elif m.reason == "no_opposite_side":
        kind, title = "order_cancelled", "Order cancelled"
        nobody = "no sellers at limit-up" if m.side == "buy" else "no buyers at limit-down"
        body = f"Your market {m.side} order for {m.symbol} was cancelled: {nobody}."
    elif m.reason == "unmatched_remainder":
        kind, title = "order_cancelled", "Order cancelled"
        body = f"The unfilled rest of your market {m.side} order for {m.symbol} was cancelled (best five levels only)."
    elif m.reason == "remainder_unfunded":
        kind, title = "order_cancelled", "Order cancelled"
        body = f"The unfilled rest of your {m.side} order for {m.symbol} was cancelled: its cash could not be held."
    else:
        kind, title = "order_cancelled", "Order cancelled"
        body = f"Your {m.side} order for {m.symbol} is cancelled."
    data = {
        "order_id": m.order_id,
        "symbol": m.symbol,
        "side": m.side,
        "reason": m.reason,
        "released": format_minor(m.released_minor),
        "released_minor": m.released_minor,
    }
    return [Draft(m.customer_id, kind, title, body + released, data)]


def price_alert(m: sec.PriceAlerted, watchers: list[str]) -> list[Draft]:
    pct = abs(m.change_bp) / 100
    direction = "up" if m.direction == "up" else "down"
    body = f"{m.name} ({m.symbol}) is {direction} {pct:.2f}% today at {_price(m.last_price_milli)} CNY."
    data = {
        "symbol": m.symbol,
        "name": m.name,
        "direction": m.direction,
        "change_pct": f"{m.change_bp / 100:.2f}",
        "threshold_pct": f"{m.threshold_bp / 100:g}",
        "last_price": _price(m.last_price_milli),
        "prev_close": _price(m.prev_close_milli),
        "bank_day": m.bank_day,
    }
    return [Draft(c, "price_alert", f"{m.symbol} {direction} {pct:.1f}%", body, data) for c in watchers]


def policy_issued(m: ins.PolicyIssued) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "policy_issued",
            "Policy issued",
            f"Policy {m.number} is active from {m.starts_on} to {m.ends_on}; "
            f"claims are covered from {m.covered_from}. Premium {_money(m.premium_minor, m.currency)}.",
            {
                "policy_id": m.policy_id,
                "number": m.number,
                "product_code": m.product_code,
                "premium_minor": m.premium_minor,
                "sum_insured_minor": m.sum_insured_minor,
                "starts_on": m.starts_on.isoformat(),
                "ends_on": m.ends_on.isoformat(),
            },
        )
    ]


def policy_purchase_failed(m: ins.PolicyPurchaseFailed) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "policy_purchase_failed",
            "Policy not issued",
            f"Your policy could not be issued ({m.reason.replace('_', ' ')}); no premium was taken.",
            {"policy_id": m.policy_id, "reason": m.reason, "detail": m.detail},
        )
    ]


REFUND_BASES = {
    "before_start": "the cover had not started, so the whole premium is refunded",
    "cooling_off": "it was within the cooling-off period, so the whole premium is refunded",
    "pro_rata": "the premium for the unused days is refunded",
}


def policy_cancelled(m: ins.PolicyCancelled) -> list[Draft]:
    refund = _money(m.refund_minor, m.currency)
    why = REFUND_BASES.get(m.basis, m.basis)
    return [
        Draft(
            m.customer_id,
            "policy_status_changed",
            "Policy cancelled",
            f"Policy {m.number} is cancelled; {why} ({refund}).",
            {"policy_id": m.policy_id, "number": m.number, "status": "cancelled", "refund_minor": m.refund_minor},
        )
    ]


def policy_cover_started(m: ins.PolicyCoverStarted) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "policy_status_changed",
            "Cover started",
            f"Policy {m.number} covers you from today, {m.starts_on}, to {m.ends_on}.",
            {"policy_id": m.policy_id, "number": m.number, "status": "active", "starts_on": m.starts_on.isoformat()},
        )
    ]


def policy_expired(m: ins.PolicyExpired) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "policy_status_changed",
            "Policy expired",
            f"Policy {m.number} ended on {m.ends_on}. You can renew it until {m.renewable_until}.",
            {"policy_id": m.policy_id, "number": m.number, "status": "expired", "ends_on": m.ends_on.isoformat()},
        )
    ]


def policy_lapsed(m: ins.PolicyLapsed) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "policy_status_changed",
            "Policy lapsed",
            f"Policy {m.number} was not renewed and has lapsed; buy a new policy for cover.",
            {"policy_id": m.policy_id, "number": m.number, "status": "lapsed"},
        )
    ]


def premium_refunded(m: ins.PremiumRefunded) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "premium_refunded",
            "Premium refunded",
            f"{_money(m.amount_minor, 'CNY')} of your premium was refunded into account {_tail(m.account_id)}.",
            {"policy_id": m.policy_id, "account_id": m.account_id, "amount_minor": m.amount_minor, "reason": m.reason},
        )
    ]


def claim_changed(type_: str, m: ins.ClaimEvent) -> list[Draft]:
    what = CLAIM_CHANGES[type_]
    data: dict[str, Any] = {"claim_id": m.claim_id, "policy_id": m.policy_id, "status": m.status}
    body = f"Your claim {what}."
    if isinstance(m, ins.ClaimRejected):
        data |= {"reason": m.reason, "detail": m.detail}
        body = f"Your claim was rejected: {m.detail or m.reason.replace('_', ' ')}."
    elif isinstance(m, ins.ClaimApproved):
        data |= {"amount": format_minor(m.amount_minor, m.currency), "amount_minor": m.amount_minor}
        body = f"Your claim was approved for {_money(m.amount_minor, m.currency)}; the payout is on its way."
        if m.deductible_minor:
            data |= {"approved_minor": m.approved_minor, "deductible_minor": m.deductible_minor}
            body = (
                f"Your claim was approved for {_money(m.approved_minor, m.currency)}; after the deductible of "
                f"{_money(m.deductible_minor, m.currency)}, {_money(m.amount_minor, m.currency)} is on its way."
            )
    elif isinstance(m, ins.ClaimInfoRequested):
        data |= {"message": m.message}
        body = f"Your claim needs more information: {m.message} Add it and submit the claim again."
    elif isinstance(m, ins.ClaimPayoutFailed):
        data |= {"reason": m.reason}
    return [Draft(m.customer_id, "claim_status_changed", "Claim update", body, data)]


def claim_paid(m: ins.ClaimPaid) -> list[Draft]:
    return [
        Draft(
            m.customer_id,
            "claim_paid",
            "Claim paid",
            f"{_money(m.amount_minor, m.currency)} for your claim was paid into account {_tail(m.account_id)}.",
            {
                "claim_id": m.claim_id,
                "policy_id": m.policy_id,
                "account_id": m.account_id,
                "amount": format_minor(m.amount_minor, m.currency),
                "amount_minor": m.amount_minor,
                "currency": m.currency,
            },
        )
    ]


def kyc_decided(m: acc.KycApplicationDecided) -> list[Draft]:
    data = {"application_id": m.application_id, "status": m.status, "reason": m.reason, "kyc_class": m.kyc_class}
    if m.status == "approved":
        title, body = "Upgrade approved", f"You are now a class {m.kyc_class} customer, with its higher limits."
    else:
        title = "Upgrade refused"
        reason = m.reason.replace("_", " ")
        body = f"Your application for a higher class was refused ({reason}); you stay class {m.kyc_class}."
    return [Draft(m.customer_id, "kyc_decided", title, body, data)]


def new_device_signed_in(customer_id: str, device_id: str, new_until: datetime) -> Draft:
    """A device the customer had not used was bound after a step-up code."""
    return Draft(
        customer_id,
        "new_device_signed_in",
        "New device signed in",
        f"Your account was signed in on a new device ({device_id}). Until "
        f"{new_until.astimezone(BANK_TZ):%Y-%m-%d %H:%M} Beijing time its "
        "payments have lower limits. If this was not you, remove the device and change your password.",
        {"device_id": device_id, "new_until": new_until.isoformat()},
    )


# A step-up's operation as the customer reads it.
_OPERATIONS = {"transfer": "transfer", "bill": "bill payment", "qr": "QR payment", "topup": "top-up"}


def stepup_code_sent(
    customer_id: str, challenge_id: str, operation: str, amount_minor: int, currency: str, ttl_s: int
) -> Draft:
    """That a step-up code was sent by SMS. Never the code: whoever holds the access token
    reads the notifications, and the code is what proves it is the customer. Its money
    has the payments' shape: `amount`, `amount_minor` and `currency`."""
    approving = (
        "sign in on a new device"  # gateway/identity/devices.py: a login moves no money
        if operation == "device_login"
        else f"approve a {_OPERATIONS.get(operation, operation)} of {_money(amount_minor, currency)}"
    )
    return Draft(
        customer_id,
        "stepup_code",
        "Approve with your code",
        f"We sent a code by SMS to {approving}. It expires in {ttl_s // 60} minutes. "
        "If this was not you, do not share it and log out your other sessions.",
        {
            "challenge_id": challenge_id,
            "operation": operation,
            "amount": format_minor(amount_minor, currency),
            "amount_minor": amount_minor,
            "currency": currency,
        },
    )
