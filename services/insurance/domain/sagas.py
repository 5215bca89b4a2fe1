"""The insurance sagas' decisions as pure objects, on the saga primitive
(`shared.saga.model`): a saga and a fact from accounts (or its deadline passing) in, a
`Decision` out.

- A premium purchase reserves the premium on the customer's account, captures it into
  `internal:insurance-premiums`, or releases it and fails (`PremiumSaga`).
- A claim payout and a premium refund are one credit each, from the insurer's claims or
  premiums account (`CreditSaga`).

Facts may come twice or late. A fact for a purchase that already ended is answered by a
compensation sent without waiting (release a stray hold, refund a stray capture), never
by a second effect; a credit that lands after its saga gave up still counts as paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.saga.model import COMPLETED, FAILED, IGNORE, Decision, Saga, Timeouts, end, move, on_deadline


class SagaKind(StrEnum):
    PREMIUM = "premium"  # reserve the premium, capture it into internal:insurance-premiums
    PAYOUT = "payout"  # credit the claim from internal:insurance-claims
    REFUND = "refund"  # credit back a premium captured after its purchase had failed


# The steps: the command in flight, whose answer the saga waits for.
RESERVE = "reserve"  # ReserveFunds
CAPTURE = "capture"  # CaptureHold into internal:insurance-premiums
RELEASE = "release"  # ReleaseHold
CREDIT = "credit"  # CreditAccount
# Not a step: a premium saga's compensation for a capture that landed after it failed,
# which starts a refund saga of its own.
REFUND = "refund"

# Why a saga gave up (the public reason of a purchase or payout that timed out).
TIMEOUT = "timeout"
# Why a purchase failed when accounts released its hold without saying why.
RELEASED = "released"

# What the API has always called each step, and each end ("premium_payment.step", "payout.step").
PUBLIC_STEPS = {RESERVE: "reserving", CAPTURE: "capturing", RELEASE: "releasing", CREDIT: "crediting"}


def public_step(saga: Saga) -> str:
    if saga.outcome == COMPLETED:
        return "done"
    if saga.outcome is not None:
        return "failed"
    return PUBLIC_STEPS.get(saga.step or "", saga.step or "")


def failure(saga: Saga) -> tuple[str, str]:
    """The reason and detail a failed saga tells the customer."""
    return saga.reason or RELEASED, saga.detail or ""


def _gave_up(timeouts: Timeouts) -> str:
    return f"accounts did not answer {timeouts.max_attempts} times"


@dataclass(frozen=True)
class PremiumSaga:
    """Buying a policy: reserve the premium, capture it, or release it and fail.

    A reservation or a capture is sent `timeouts.max_attempts` times, then the hold is
    released (in case the reservation landed). A release is sent until accounts answers:
    giving up on it could leave the customer's money held for a purchase that failed."""

    timeouts: Timeouts = field(default_factory=lambda: Timeouts(max_attempts=5))

    def on_funds_reserved(self, s: Saga) -> Decision:
        if s.step == RESERVE:
            return move(CAPTURE)
        if s.outcome == FAILED:  # a hold that landed after the purchase failed
            return Decision(send=(RELEASE,))
        return IGNORE

    def on_reservation_rejected(self, s: Saga, reason: str, detail: str) -> Decision:
        # Releasing after a timeout: the reservation never landed, and now we know why.
        if s.step in (RESERVE, RELEASE):
            return end(FAILED, reason, detail)
        return IGNORE

    def on_hold_captured(self, s: Saga) -> Decision:
        # Also while releasing: the capture won the race, the premium is paid.
        if s.outcome is None:
            return end(COMPLETED)
        if s.outcome == FAILED:  # money taken for no cover goes back
            return Decision(send=(REFUND,))
        return IGNORE

    def on_capture_rejected(self, s: Saga, reason: str, detail: str) -> Decision:
        if s.step in (RESERVE, CAPTURE):
            return move(RELEASE, reason, detail)
        return IGNORE

    def on_hold_released(self, s: Saga) -> Decision:
        return end(FAILED) if s.outcome is None else IGNORE

    def on_deadline(self, s: Saga) -> Decision:
        give_up = (
            move(RELEASE, TIMEOUT, _gave_up(self.timeouts)) if s.step in (RESERVE, CAPTURE) else Decision(retry=True)
        )
        return on_deadline(s, self.timeouts, give_up)


@dataclass(frozen=True)
class CreditSaga:
    """A claim payout or a premium refund: one CreditAccount, sent `timeouts.max_attempts`
    times, then failed as `timeout`. Accounts applies a credit id once, so a credit that
    lands after the saga gave up is still the money paid, and completes it."""

    timeouts: Timeouts = field(default_factory=lambda: Timeouts(max_attempts=5))

    def on_credited(self, s: Saga) -> Decision:
        return end(COMPLETED) if s.outcome != COMPLETED else IGNORE

    def on_credit_rejected(self, s: Saga, reason: str, detail: str) -> Decision:
        return end(FAILED, reason, detail) if s.step == CREDIT else IGNORE

    def on_deadline(self, s: Saga) -> Decision:
        return on_deadline(s, self.timeouts, end(FAILED, TIMEOUT, _gave_up(self.timeouts)))
