"""The two sagas through accounts as pure step tables: the premium purchase (reserve,
capture, or release) and the credits (a claim payout, a premium refund)."""

from __future__ import annotations

from enum import StrEnum


class SagaKind(StrEnum):
    PREMIUM = "premium"  # reserve the premium, capture it into internal:insurance-premiums
    PAYOUT = "payout"  # credit the claim from internal:insurance-claims
    REFUND = "refund"  # credit back a premium captured after its purchase had failed


class Step(StrEnum):
    RESERVING = "reserving"
    CAPTURING = "capturing"
    RELEASING = "releasing"
    CREDITING = "crediting"
    DONE = "done"
    FAILED = "failed"


PENDING_STEPS = frozenset({Step.RESERVING, Step.CAPTURING, Step.RELEASING, Step.CREDITING})


class Action(StrEnum):
    RESERVE = "reserve"  # (re)send ReserveFunds
    CAPTURE = "capture"  # (re)send CaptureHold
    RELEASE = "release"  # (re)send ReleaseHold
    CREDIT = "credit"  # (re)send CreditAccount
    ISSUE = "issue"  # the premium is paid: the policy becomes active
    FAIL = "fail"  # the purchase / payout failed
    PAID = "paid"  # the credit landed
    REFUND = "refund"  # a premium captured after its purchase had failed goes back
    IGNORE = "ignore"


# Facts from accounts, by their short names.
FUNDS_RESERVED = "FundsReserved"
RESERVATION_REJECTED = "ReservationRejected"
HOLD_CAPTURED = "HoldCaptured"
CAPTURE_REJECTED = "CaptureRejected"
HOLD_RELEASED = "HoldReleased"
ACCOUNT_CREDITED = "AccountCredited"
CREDIT_REJECTED = "CreditRejected"

_S, _A = Step, Action
# (step, fact) -> (next step, action). Facts may come twice or late: a fact for a
# finished purchase is answered by compensation (release, refund), never by a second effect.
PREMIUM_REPLIES: dict[tuple[Step, str], tuple[Step, Action]] = {
    (_S.RESERVING, FUNDS_RESERVED): (_S.CAPTURING, _A.CAPTURE),
    (_S.RESERVING, RESERVATION_REJECTED): (_S.FAILED, _A.FAIL),
    (_S.RESERVING, HOLD_RELEASED): (_S.FAILED, _A.FAIL),
    (_S.RESERVING, HOLD_CAPTURED): (_S.DONE, _A.ISSUE),
    (_S.RESERVING, CAPTURE_REJECTED): (_S.RELEASING, _A.RELEASE),
    (_S.CAPTURING, HOLD_CAPTURED): (_S.DONE, _A.ISSUE),
    (_S.CAPTURING, CAPTURE_REJECTED): (_S.RELEASING, _A.RELEASE),
    (_S.CAPTURING, HOLD_RELEASED): (_S.FAILED, _A.FAIL),
    # Releasing after a timeout or a refused capture: whichever the hold reached first wins.
    (_S.RELEASING, HOLD_RELEASED): (_S.FAILED, _A.FAIL),
    (_S.RELEASING, RESERVATION_REJECTED): (_S.FAILED, _A.FAIL),
    (_S.RELEASING, HOLD_CAPTURED): (_S.DONE, _A.ISSUE),
    (_S.FAILED, FUNDS_RESERVED): (_S.FAILED, _A.RELEASE),
    (_S.FAILED, HOLD_CAPTURED): (_S.FAILED, _A.REFUND),
}
PAYOUT_REPLIES: dict[tuple[Step, str], tuple[Step, Action]] = {
    (_S.CREDITING, ACCOUNT_CREDITED): (_S.DONE, _A.PAID),
    (_S.CREDITING, CREDIT_REJECTED): (_S.FAILED, _A.FAIL),
    # A credit that lands after the payout gave up is still money paid.
    (_S.FAILED, ACCOUNT_CREDITED): (_S.DONE, _A.PAID),
}
_RESEND = {_S.RESERVING: _A.RESERVE, _S.CAPTURING: _A.CAPTURE, _S.RELEASING: _A.RELEASE, _S.CREDITING: _A.CREDIT}


def on_reply(kind: SagaKind | str, step: Step | str, fact: str) -> tuple[Step, Action]:
    table = PREMIUM_REPLIES if SagaKind(kind) == SagaKind.PREMIUM else PAYOUT_REPLIES
    step = Step(step)
    return table.get((step, fact), (step, Action.IGNORE))


def on_timeout(step: Step | str, attempts: int, max_attempts: int) -> tuple[Step, Action]:
    """A pending step heard nothing: re-send it (commands are idempotent by business id);
    after `max_attempts` sends, give up: a purchase releases its hold (and then fails), a
    release or a payout fails."""
    step = Step(step)
    if step not in PENDING_STEPS:
        return step, Action.IGNORE
    if attempts < max_attempts:
        return step, _RESEND[step]
    if step in (Step.RESERVING, Step.CAPTURING):
        return Step.RELEASING, Action.RELEASE
    return Step.FAILED, Action.FAIL
