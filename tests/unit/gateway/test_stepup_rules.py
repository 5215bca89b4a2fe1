"""Step-up rules: when a payment needs a one-time code, and what a try of a code does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.identity.stepup import ChallengeState, StepUpPolicy, Verdict, attempt, code_hash, new_code

POLICY = StepUpPolicy(amount_minor=5_000_00, new_payee_minor=1_000_00)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("amount", "transfer", "known", "reason"),
    [
        (5_000_00, True, True, None),  # at the amount: no code
        (5_000_01, True, True, "amount"),
        (5_000_01, False, False, "amount"),
        (1_000_00, True, False, None),  # at the new-payee amount: no code
        (1_000_01, True, False, "new_payee"),
        (1_000_01, True, True, None),
        (4_999_99, False, False, None),  # bills, QR, top-ups have no new-payee rule
        (1, True, False, None),
    ],
)
def test_when_a_payment_needs_a_code(amount: int, transfer: bool, known: bool, reason: str | None) -> None:
    assert POLICY.reason(amount_minor=amount, is_transfer=transfer, payee_known=known) == reason


@pytest.mark.parametrize(
    ("amount", "transfer", "asks"),
    [
        (1_000_00, True, False),
        (1_000_01, True, True),
        (5_000_00, True, True),
        (5_000_01, True, False),
        (2_000_00, False, False),
    ],
)
def test_the_payee_is_looked_up_only_where_it_decides(amount: int, transfer: bool, asks: bool) -> None:
    assert POLICY.asks_about_payee(amount_minor=amount, is_transfer=transfer) is asks


def pending(attempts: int = 0) -> ChallengeState:
    return ChallengeState("pending", attempts, LATER)


@pytest.mark.parametrize(
    ("state", "code_ok", "now", "verdict", "status", "attempts"),
    [
        (pending(), True, NOW, Verdict.APPROVED, "approved", 0),
        (pending(), False, NOW, Verdict.WRONG_CODE, "pending", 1),
        (pending(3), False, NOW, Verdict.WRONG_CODE, "pending", 4),
        (pending(4), False, NOW, Verdict.WRONG_CODE, "locked", 5),  # the fifth wrong code locks
        (ChallengeState("locked", 5, LATER), True, NOW, Verdict.LOCKED, "locked", 5),
        (pending(), True, LATER, Verdict.EXPIRED, "pending", 0),  # expiry first: the code is not even tried
        (pending(2), False, LATER, Verdict.EXPIRED, "pending", 2),
        (ChallengeState("approved", 1, LATER), True, NOW, Verdict.APPROVED, "approved", 1),
        (ChallengeState("approved", 1, LATER), False, NOW, Verdict.ALREADY_APPROVED_OTHER_CODE, "approved", 1),
    ],
)
def test_a_try_of_a_code(
    state: ChallengeState, code_ok: bool, now: datetime, verdict: Verdict, status: str, attempts: int
) -> None:
    got, after = attempt(state, code_ok=code_ok, now=now, max_attempts=5)
    assert (got, after.status, after.attempts) == (verdict, status, attempts)


def test_codes_are_six_digits_and_vary() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190


def test_the_stored_hash_binds_the_code_to_its_challenge_and_the_secret() -> None:
    h = code_hash("secret", "challenge-1", "123456")
    assert len(h) == 64 and "123456" not in h
    assert h == code_hash("secret", "challenge-1", "123456")
    assert h != code_hash("secret", "challenge-2", "123456")
    assert h != code_hash("other-secret", "challenge-1", "123456")
    assert h != code_hash("secret", "challenge-1", "123457")
