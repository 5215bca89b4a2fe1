"""The premium and payout sagas as step tables: replies, late and repeated facts, timeouts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.insurance.domain import (
    ACCOUNT_CREDITED,
    CAPTURE_REJECTED,
    CREDIT_REJECTED,
    FUNDS_RESERVED,
    HOLD_CAPTURED,
    HOLD_RELEASED,
    PENDING_STEPS,
    RESERVATION_REJECTED,
    Action,
    SagaKind,
    Step,
    on_reply,
    on_timeout,
)

PREMIUM_FACTS = [FUNDS_RESERVED, RESERVATION_REJECTED, HOLD_CAPTURED, CAPTURE_REJECTED, HOLD_RELEASED]
PAYOUT_FACTS = [ACCOUNT_CREDITED, CREDIT_REJECTED]


@pytest.mark.parametrize(
    ("step", "fact", "expected"),
    [
        (Step.RESERVING, FUNDS_RESERVED, (Step.CAPTURING, Action.CAPTURE)),
        (Step.RESERVING, RESERVATION_REJECTED, (Step.FAILED, Action.FAIL)),
        (Step.CAPTURING, HOLD_CAPTURED, (Step.DONE, Action.ISSUE)),
        (Step.CAPTURING, CAPTURE_REJECTED, (Step.RELEASING, Action.RELEASE)),
        (Step.CAPTURING, FUNDS_RESERVED, (Step.CAPTURING, Action.IGNORE)),  # the reservation again
        (Step.RELEASING, HOLD_RELEASED, (Step.FAILED, Action.FAIL)),
        (Step.RELEASING, FUNDS_RESERVED, (Step.RELEASING, Action.IGNORE)),  # the release is behind it
        (Step.RELEASING, HOLD_CAPTURED, (Step.DONE, Action.ISSUE)),  # the capture won the race: paid
        (Step.DONE, HOLD_CAPTURED, (Step.DONE, Action.IGNORE)),
        (Step.DONE, HOLD_RELEASED, (Step.DONE, Action.IGNORE)),
        (Step.FAILED, FUNDS_RESERVED, (Step.FAILED, Action.RELEASE)),  # nobody may keep a stray hold
        (Step.FAILED, HOLD_CAPTURED, (Step.FAILED, Action.REFUND)),  # nor money for no cover
        (Step.FAILED, HOLD_RELEASED, (Step.FAILED, Action.IGNORE)),
    ],
)
def test_premium_saga_replies(step: Step, fact: str, expected: tuple[Step, Action]) -> None:
    assert on_reply(SagaKind.PREMIUM, step, fact) == expected


@pytest.mark.parametrize("kind", [SagaKind.PAYOUT, SagaKind.REFUND])
@pytest.mark.parametrize(
    ("step", "fact", "expected"),
    [
        (Step.CREDITING, ACCOUNT_CREDITED, (Step.DONE, Action.PAID)),
        (Step.CREDITING, CREDIT_REJECTED, (Step.FAILED, Action.FAIL)),
        (Step.DONE, ACCOUNT_CREDITED, (Step.DONE, Action.IGNORE)),
        (Step.FAILED, ACCOUNT_CREDITED, (Step.DONE, Action.PAID)),  # a late credit is still money paid
        (Step.FAILED, CREDIT_REJECTED, (Step.FAILED, Action.IGNORE)),
    ],
)
def test_credit_saga_replies(kind: SagaKind, step: Step, fact: str, expected: tuple[Step, Action]) -> None:
    assert on_reply(kind, step, fact) == expected


@pytest.mark.parametrize(
    ("step", "resend"),
    [
        (Step.RESERVING, Action.RESERVE),
        (Step.CAPTURING, Action.CAPTURE),
        (Step.RELEASING, Action.RELEASE),
        (Step.CREDITING, Action.CREDIT),
    ],
)
def test_a_step_that_hears_nothing_is_sent_again_until_the_last_attempt(step: Step, resend: Action) -> None:
    assert [on_timeout(step, n, 3) for n in (1, 2)] == [(step, resend), (step, resend)]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Step.RESERVING, (Step.RELEASING, Action.RELEASE)),  # a reservation may have landed: free it
        (Step.CAPTURING, (Step.RELEASING, Action.RELEASE)),
        (Step.RELEASING, (Step.FAILED, Action.FAIL)),
        (Step.CREDITING, (Step.FAILED, Action.FAIL)),
        (Step.DONE, (Step.DONE, Action.IGNORE)),
        (Step.FAILED, (Step.FAILED, Action.IGNORE)),
    ],
)
def test_after_the_last_attempt_a_saga_gives_up_cleanly(step: Step, expected: tuple[Step, Action]) -> None:
    assert on_timeout(step, 3, 3) == expected


Event = tuple[str, str]  # ("fact", name) or ("timeout", "")


@given(
    events=st.lists(
        st.one_of(st.sampled_from([("fact", f) for f in PREMIUM_FACTS]), st.just(("timeout", ""))), max_size=40
    )
)
def test_a_premium_saga_issues_or_fails_once_and_never_both(events: list[Event]) -> None:
    step, attempts, actions = Step.RESERVING, 1, []
    for kind, fact in events:
        if kind == "fact":
            new, action = on_reply(SagaKind.PREMIUM, step, fact)
        else:
            new, action = on_timeout(step, attempts, 3)
        attempts = 1 if new != step else attempts + 1
        step = new
        actions.append(action)
    assert actions.count(Action.ISSUE) + actions.count(Action.FAIL) <= 1
    assert Action.REFUND not in actions or Action.FAIL in actions  # only a failed purchase refunds


@given(start=st.sampled_from(sorted(PENDING_STEPS)), max_attempts=st.integers(min_value=1, max_value=10))
def test_timeouts_alone_bring_every_saga_to_an_end(start: Step, max_attempts: int) -> None:
    step, attempts = start, 1
    for _ in range(3 * max_attempts + 3):
        new, _action = on_timeout(step, attempts, max_attempts)
        attempts = 1 if new != step else attempts + 1
        step = new
    assert step in (Step.DONE, Step.FAILED)
