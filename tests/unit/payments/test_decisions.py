"""The payment and deposit sagas' decisions as pure objects: a saga in memory, a fact or
a deadline in, a decision out. No database, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.payments.domain import (
    CAPTURE,
    CREDIT,
    PAY,
    RELEASE,
    RESERVE,
    SANDBOX_FAIL_BILLER,
    DepositSaga,
    Kind,
    Payment,
    PaymentSaga,
    Reason,
    RiskContext,
    RiskPolicy,
    public_status,
    stage,
)
from shared.saga.model import COMPLETED, FAILED, IGNORE, Decision, Timeouts, end, move

NOW = datetime(2026, 5, 20, 8, 0, tzinfo=UTC)
SAGA = PaymentSaga(RiskPolicy(), Timeouts(max_attempts=3))


def payment(**changes: Any) -> Payment:
    """A payment in memory, at its reservation unless `changes` say otherwise."""
    fields: dict[str, Any] = {
        "id": "pay-1",
        "kind": Kind.TRANSFER,
        "customer_id": "alice",
        "idempotency_key": "key-1",
        "payer_account_id": "acct-alice",
        "payer_class": "I",
        "payee_account_id": "acct-bob",
        "payee_customer_id": "bob",
        "payee_key": "account:acct-bob",
        "payee_label": "B*b",
        "amount_minor": 100_00,
        "currency": "CNY",
        "step": RESERVE,
        "attempts": 1,
        "deadline_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Payment(**(fields | changes))


def risk(p: Payment, *, recent: int = 0, known: bool = True) -> RiskContext:
    return RiskContext(Kind(p.kind), p.amount_minor, p.payer_class, recent_payments=recent, payee_known=known)


def test_a_payment_risk_approves_at_its_request_is_paid_with_one_command() -> None:
    p = payment(step=None)
    assert SAGA.first_step(p, risk(p)) == PAY


@pytest.mark.parametrize(
    ("payment", "recent", "known"),
    [
        (payment(step=None, amount_minor=666_66), 0, True),
        (payment(step=None), 20, True),
        (payment(step=None, amount_minor=5_000_01), 0, False),
        (payment(step=None, kind=Kind.BILL, payee_key=f"biller:{SANDBOX_FAIL_BILLER}:any"), 0, True),
    ],
    ids=["magic amount", "velocity", "large first payment to a new payee", "sandbox failing biller"],
)
def test_a_payment_risk_or_the_biller_would_refuse_holds_the_funds_first(
    payment: Payment, recent: int, known: bool
) -> None:
    assert SAGA.first_step(payment, risk(payment, recent=recent, known=known)) == RESERVE


def test_a_paying_hold_that_came_back_uncaptured_is_captured_without_deciding_again() -> None:
    assert SAGA.on_funds_reserved(payment(step=PAY), None) == (move(CAPTURE), None)


def test_held_funds_that_risk_approves_are_captured() -> None:
    p = payment()
    decision, verdict = SAGA.on_funds_reserved(p, risk(p))
    assert decision == move(CAPTURE)
    assert verdict is not None and verdict.approved


@pytest.mark.parametrize(
    ("payment", "recent", "known", "rule"),
    [
        (payment(amount_minor=666_66), 0, True, "sandbox_magic_amount"),
        (payment(), 20, True, "velocity"),
        (payment(amount_minor=5_000_01), 0, False, "new_payee_threshold"),
    ],
    ids=["magic amount", "velocity", "large first payment to a new payee"],
)
def test_held_funds_that_risk_rejects_are_released(payment: Payment, recent: int, known: bool, rule: str) -> None:
    decision, verdict = SAGA.on_funds_reserved(payment, risk(payment, recent=recent, known=known))
    assert (decision.step, decision.reason) == (RELEASE, Reason.RISK_REJECTED)
    assert verdict is not None and verdict.rule == rule


def test_the_sandbox_failing_biller_refuses_after_the_hold() -> None:
    p = payment(kind=Kind.BILL, payee_key=f"biller:{SANDBOX_FAIL_BILLER}:any", payee_customer_id=None)
    decision, _ = SAGA.on_funds_reserved(p, risk(p))
    assert (decision.step, decision.reason) == (RELEASE, Reason.PAYEE_UNAVAILABLE)


@pytest.mark.parametrize("step", [CAPTURE, RELEASE, None])
def test_a_reservation_heard_again_after_the_saga_moved_on_changes_nothing(step: str | None) -> None:
    p = payment(step=step)
    assert SAGA.on_funds_reserved(p, risk(p)) == (IGNORE, None)


@pytest.mark.parametrize(
    ("reason", "shown"),
    [("insufficient_funds", Reason.INSUFFICIENT_FUNDS), ("whatever_else", Reason.PAYER_UNAVAILABLE)],
)
def test_a_rejected_reservation_fails_the_payment_with_the_reason(reason: str, shown: Reason) -> None:
    assert SAGA.on_reservation_rejected(payment(), reason, "no") == end(FAILED, shown, "no")
    assert SAGA.on_reservation_rejected(payment(step=PAY), reason, "no") == end(FAILED, shown, "no")


def test_a_rejected_reservation_ends_a_payment_already_releasing_it() -> None:
    assert SAGA.on_reservation_rejected(payment(step=RELEASE), "insufficient_funds", "") == end(FAILED)


@pytest.mark.parametrize("step", [PAY, CAPTURE, RELEASE])
def test_a_captured_hold_completes_a_payment_not_yet_ended(step: str) -> None:
    """At RELEASE too: a payment that gave up on its PAY hears the capture that landed first."""
    assert SAGA.on_hold_captured(payment(step=step)) == end(COMPLETED)


def test_a_captured_hold_changes_nothing_of_an_ended_or_reserving_payment() -> None:
    assert SAGA.on_hold_captured(payment(step=None, outcome=COMPLETED)) is IGNORE
    assert SAGA.on_hold_captured(payment(step=RESERVE)) is IGNORE


@pytest.mark.parametrize("step", [PAY, CAPTURE])
def test_a_refused_capture_releases_the_hold(step: str) -> None:
    decision = SAGA.on_capture_rejected(payment(step=step), "cap")
    assert decision == move(RELEASE, Reason.PAYEE_UNAVAILABLE, "cap")


def test_a_released_hold_fails_a_releasing_payment() -> None:
    assert SAGA.on_hold_released(payment(step=RELEASE)) == end(FAILED)
    assert SAGA.on_hold_released(payment(step=CAPTURE)) is IGNORE


@pytest.mark.parametrize("step", [PAY, RESERVE])
def test_an_unanswered_reservation_is_sent_again_then_released(step: str) -> None:
    assert SAGA.on_deadline(payment(step=step, attempts=2)) == Decision(retry=True)
    decision = SAGA.on_deadline(payment(step=step, attempts=3))
    assert (decision.step, decision.reason) == (RELEASE, Reason.TIMED_OUT)


@pytest.mark.parametrize("step", [CAPTURE, RELEASE])
def test_a_capture_or_release_is_sent_until_accounts_answers(step: str) -> None:
    assert SAGA.on_deadline(payment(step=step, attempts=50)) == Decision(retry=True)


@pytest.mark.parametrize(
    ("payment", "shown", "status"),
    [
        (payment(step=PAY), "paying", "pending"),
        (payment(step=RESERVE), "reserving_funds", "pending"),
        (payment(step=CAPTURE), "capturing", "pending"),
        (payment(step=RELEASE), "releasing", "pending"),
        (payment(step=None, outcome=COMPLETED), "completed", "completed"),
        (payment(step=None, outcome=FAILED), "failed", "failed"),
    ],
)
def test_the_api_shows_a_stage_and_pending_until_the_end(payment: Payment, shown: str, status: str) -> None:
    assert (stage(payment), public_status(payment)) == (shown, status)


# --- deposits -----------------------------------------------------------------------------

DEPOSITS = DepositSaga(Timeouts(step=timedelta(seconds=5), max_attempts=2))


def deposit(**changes: Any) -> Payment:
    """A deposit's saga columns, on a payment-shaped row (its decider reads only those)."""
    return payment(**{"kind": "deposit", "step": CREDIT, **changes})


def test_a_credited_deposit_completes() -> None:
    assert DEPOSITS.on_credited(deposit()) == end(COMPLETED)


def test_a_credit_that_lands_after_the_deposit_gave_up_still_completes_it() -> None:
    assert DEPOSITS.on_credited(deposit(step=None, outcome=FAILED, reason=Reason.TIMED_OUT)) == end(COMPLETED)


def test_a_credit_heard_twice_completes_once() -> None:
    assert DEPOSITS.on_credited(deposit(step=None, outcome=COMPLETED)) is IGNORE


def test_a_refused_credit_fails_the_deposit_with_accounts_reason() -> None:
    assert DEPOSITS.on_credit_rejected(deposit(), "balance_cap_exceeded", "cap") == end(
        FAILED, "balance_cap_exceeded", "cap"
    )


def test_an_unanswered_credit_is_sent_again_then_given_up() -> None:
    assert DEPOSITS.on_deadline(deposit(attempts=1)) == Decision(retry=True)
    assert DEPOSITS.on_deadline(deposit(attempts=2)).outcome == FAILED
