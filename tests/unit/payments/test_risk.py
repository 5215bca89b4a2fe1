"""Payments' pure rules: the risk decision and per-payment class limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from services.payments.domain import (
    ACCOUNTS_REASONS,
    RISK_MAGIC_AMOUNT,
    Kind,
    PaymentRejected,
    Reason,
    RiskContext,
    RiskDecision,
    RiskPolicy,
    assess,
    check_per_payment_limit,
    minor_from_decimal,
)

POLICY = RiskPolicy()
THRESHOLD = POLICY.new_payee_threshold_minor


def ctx(
    kind: Kind = Kind.TRANSFER,
    amount_minor: int = 100_00,
    *,
    recent: int = 0,
    payee_known: bool = True,
    payer_class: str | None = "I",
) -> RiskContext:
    return RiskContext(
        kind=kind, amount_minor=amount_minor, payer_class=payer_class, recent_payments=recent, payee_known=payee_known
    )


# --- the sandbox magic amount ---------------------------------------------------------------


def test_magic_amount_transfer_is_rejected() -> None:
    decision = assess(ctx(Kind.TRANSFER, RISK_MAGIC_AMOUNT), POLICY)

    assert (decision.approved, decision.rule) == (False, "sandbox_magic_amount")
    assert "666.66" in decision.detail


def test_magic_amount_is_exactly_666_66_cny() -> None:
    assert minor_from_decimal(Decimal("666.66")) == RISK_MAGIC_AMOUNT


@pytest.mark.parametrize("kind", [Kind.BILL, Kind.QR, Kind.TOPUP])
def test_magic_amount_applies_only_to_transfers(kind: Kind) -> None:
    assert assess(ctx(kind, RISK_MAGIC_AMOUNT), POLICY) == RiskDecision(True)


@pytest.mark.parametrize("amount", [RISK_MAGIC_AMOUNT - 1, RISK_MAGIC_AMOUNT + 1, 666_00, 66_66])
def test_amounts_near_the_magic_one_pass(amount: int) -> None:
    assert assess(ctx(Kind.TRANSFER, amount), POLICY).approved


def test_magic_amount_is_rejected_even_to_a_known_payee_with_no_history() -> None:
    assert not assess(ctx(Kind.TRANSFER, RISK_MAGIC_AMOUNT, recent=0, payee_known=True), POLICY).approved


# --- velocity -------------------------------------------------------------------------------


def test_payments_below_the_velocity_limit_pass() -> None:
    assert assess(ctx(recent=POLICY.velocity_max - 1), POLICY).approved


@pytest.mark.parametrize("over", [0, 1, 50])
def test_payments_at_or_over_the_velocity_limit_are_rejected(over: int) -> None:
    decision = assess(ctx(recent=POLICY.velocity_max + over), POLICY)

    assert (decision.approved, decision.rule) == (False, "velocity")
    assert str(POLICY.velocity_max) in decision.detail
    assert f"{int(POLICY.velocity_window.total_seconds())} s" in decision.detail


@pytest.mark.parametrize("kind", list(Kind))
def test_velocity_applies_to_every_kind(kind: Kind) -> None:
    assert assess(ctx(kind, recent=POLICY.velocity_max), POLICY).rule == "velocity"


def test_velocity_limit_follows_the_policy() -> None:
    tight = RiskPolicy(velocity_max=3, velocity_window=timedelta(seconds=10))

    assert assess(ctx(recent=2), tight).approved
    decision = assess(ctx(recent=3), tight)
    assert decision.rule == "velocity"
    assert "10 s" in decision.detail


# --- first payment to a new payee -----------------------------------------------------------


def test_new_payee_above_the_threshold_is_rejected() -> None:
    decision = assess(ctx(amount_minor=THRESHOLD + 1, payee_known=False), POLICY)

    assert (decision.approved, decision.rule) == (False, "new_payee_threshold")
    assert "5000.00" in decision.detail


def test_new_payee_at_the_threshold_passes() -> None:
    assert assess(ctx(amount_minor=THRESHOLD, payee_known=False), POLICY).approved


def test_known_payee_above_the_threshold_passes() -> None:
    assert assess(ctx(amount_minor=THRESHOLD * 4, payee_known=True), POLICY).approved


@pytest.mark.parametrize("kind", list(Kind))
def test_new_payee_threshold_applies_to_every_kind(kind: Kind) -> None:
    assert assess(ctx(kind, THRESHOLD + 1, payee_known=False), POLICY).rule == "new_payee_threshold"


def test_new_payee_threshold_follows_the_policy() -> None:
    policy = RiskPolicy(new_payee_threshold_minor=10_00)

    assert assess(ctx(amount_minor=10_00, payee_known=False), policy).approved
    assert assess(ctx(amount_minor=10_01, payee_known=False), policy).rule == "new_payee_threshold"


# --- order of the rules and the approval --------------------------------------------------


def test_magic_amount_is_checked_before_velocity_and_new_payee() -> None:
    decision = assess(ctx(Kind.TRANSFER, RISK_MAGIC_AMOUNT, recent=99, payee_known=False), POLICY)
    assert decision.rule == "sandbox_magic_amount"


def test_velocity_is_checked_before_new_payee() -> None:
    decision = assess(ctx(amount_minor=THRESHOLD + 1, recent=POLICY.velocity_max, payee_known=False), POLICY)
    assert decision.rule == "velocity"


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("payer_class", ["I", "II", "III", None])
def test_an_ordinary_payment_is_approved_without_a_rule(kind: Kind, payer_class: str | None) -> None:
    decision = assess(ctx(kind, 1, recent=0, payee_known=False, payer_class=payer_class), POLICY)
    assert decision == RiskDecision(approved=True, rule="", detail="")


# --- per-payment limits by KYC class ------------------------------------------------------

LIMITS = [("I", 50_000_00), ("II", 10_000_00), ("III", 2_000_00)]


@pytest.mark.parametrize(("payer_class", "limit"), LIMITS)
def test_a_payment_up_to_the_class_limit_is_allowed(payer_class: str, limit: int) -> None:
    check_per_payment_limit(limit, payer_class, POLICY)
    check_per_payment_limit(1, payer_class, POLICY)


@pytest.mark.parametrize(("payer_class", "limit"), LIMITS)
def test_a_payment_over_the_class_limit_is_refused(payer_class: str, limit: int) -> None:
    with pytest.raises(PaymentRejected) as refused:
        check_per_payment_limit(limit + 1, payer_class, POLICY)

    assert refused.value.code == "limit-exceeded"
    assert f"class {payer_class}" in refused.value.detail
    assert f"{limit // 100}.00" in refused.value.detail


def test_a_payer_without_a_class_gets_the_class_i_limit() -> None:
    check_per_payment_limit(50_000_00, None, POLICY)
    with pytest.raises(PaymentRejected):
        check_per_payment_limit(50_000_01, None, POLICY)


def test_a_class_the_policy_does_not_know_has_no_per_payment_limit() -> None:
    check_per_payment_limit(10**12, "IV", POLICY)


def test_per_payment_limits_follow_the_policy() -> None:
    policy = RiskPolicy(per_payment_minor={"I": 1_00})
    with pytest.raises(PaymentRejected):
        check_per_payment_limit(1_01, "I", policy)


# --- amounts, status and accounts' reasons ---------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "minor"), [(Decimal("0.01"), 1), (Decimal("12.5"), 12_50), (Decimal("100"), 100_00)]
)
def test_amounts_become_fen(amount: Decimal, minor: int) -> None:
    assert minor_from_decimal(amount) == minor


@pytest.mark.parametrize(
    "amount",
    [Decimal("0"), Decimal("-1.00"), Decimal("0.001"), Decimal("1.005"), Decimal("1e13"), Decimal("NaN")],
    ids=["zero", "negative", "under a fen", "over-precise", "huge", "nan"],
)
def test_invalid_amounts_are_refused(amount: Decimal) -> None:
    with pytest.raises(PaymentRejected) as refused:
        minor_from_decimal(amount)
    assert refused.value.code == "invalid-amount"


@pytest.mark.parametrize(
    ("accounts_reason", "reason"),
    [
        ("insufficient_funds", Reason.INSUFFICIENT_FUNDS),
        ("limit_exceeded", Reason.CLASS_LIMIT_EXCEEDED),
        ("balance_cap_exceeded", Reason.PAYEE_UNAVAILABLE),
    ],
)
def test_accounts_reasons_read_as_payment_reasons(accounts_reason: str, reason: Reason) -> None:
    assert ACCOUNTS_REASONS[accounts_reason] == reason
