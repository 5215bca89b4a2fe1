"""The premium, payout and refund sagas' decisions as pure objects: a saga in memory, a
fact or a deadline in, a decision out. No database, no broker: a fake accounts in memory
plays the other side where a whole saga is run."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.insurance.domain import (
    CAPTURE,
    CREDIT,
    REFUND,
    RELEASE,
    RESERVE,
    TIMEOUT,
    CreditSaga,
    PremiumSaga,
    SagaKind,
    failure,
    public_step,
)
from shared.saga.model import COMPLETED, FAILED, IGNORE, Decision, Timeouts, advance, end, move
from tests.unit.shared.test_saga_model import NOW, Row

TIMEOUTS = Timeouts(step=timedelta(seconds=5), max_attempts=3)
PREMIUM = PremiumSaga(TIMEOUTS)
CREDITS = CreditSaga(TIMEOUTS)


def saga(**changes: Any) -> Row:
    """A premium saga in memory, reserving unless told otherwise."""
    return replace(Row(id="ins-premium-1", kind=SagaKind.PREMIUM, step=RESERVE), **changes)


def ended(outcome: str, **changes: Any) -> Row:
    return saga(step=None, deadline_at=None, outcome=outcome, **changes)


# --- the premium purchase ------------------------------------------------------------------


def test_a_reserved_premium_is_captured() -> None:
    assert PREMIUM.on_funds_reserved(saga()) == move(CAPTURE)


@pytest.mark.parametrize("row", [saga(step=CAPTURE), saga(step=RELEASE), ended(COMPLETED)], ids=str)
def test_a_reservation_heard_again_after_the_purchase_moved_on_changes_nothing(row: Row) -> None:
    assert PREMIUM.on_funds_reserved(row) is IGNORE


def test_a_hold_that_lands_after_the_purchase_failed_is_released_without_waiting() -> None:
    assert PREMIUM.on_funds_reserved(ended(FAILED, reason="insufficient_funds")) == Decision(send=(RELEASE,))


@pytest.mark.parametrize("step", [RESERVE, RELEASE])
def test_a_refused_reservation_fails_the_purchase_with_accounts_reason(step: str) -> None:
    decision = PREMIUM.on_reservation_rejected(saga(step=step), "insufficient_funds", "available 10.00")
    assert decision == end(FAILED, "insufficient_funds", "available 10.00")


@pytest.mark.parametrize("row", [saga(step=CAPTURE), ended(FAILED), ended(COMPLETED)], ids=str)
def test_a_refused_reservation_heard_late_changes_nothing(row: Row) -> None:
    assert PREMIUM.on_reservation_rejected(row, "insufficient_funds", "") is IGNORE


@pytest.mark.parametrize("step", [RESERVE, CAPTURE, RELEASE])
def test_a_captured_premium_completes_the_purchase_even_while_releasing(step: str) -> None:
    assert PREMIUM.on_hold_captured(saga(step=step)) == end(COMPLETED)


def test_a_premium_captured_after_the_purchase_failed_is_refunded() -> None:
    assert PREMIUM.on_hold_captured(ended(FAILED, reason=TIMEOUT)) == Decision(send=(REFUND,))


def test_a_capture_heard_again_after_the_policy_was_issued_changes_nothing() -> None:
    assert PREMIUM.on_hold_captured(ended(COMPLETED)) is IGNORE


@pytest.mark.parametrize("step", [RESERVE, CAPTURE])
def test_a_refused_capture_releases_the_hold(step: str) -> None:
    decision = PREMIUM.on_capture_rejected(saga(step=step), "hold_not_active", "hold is released")
    assert decision == move(RELEASE, "hold_not_active", "hold is released")


@pytest.mark.parametrize("row", [saga(step=RELEASE), ended(FAILED), ended(COMPLETED)], ids=str)
def test_a_refused_capture_heard_late_changes_nothing(row: Row) -> None:
    assert PREMIUM.on_capture_rejected(row, "hold_not_active", "") is IGNORE


@pytest.mark.parametrize("step", [RESERVE, CAPTURE, RELEASE])
def test_a_released_hold_fails_the_purchase(step: str) -> None:
    assert PREMIUM.on_hold_released(saga(step=step)) == end(FAILED)


@pytest.mark.parametrize("outcome", [COMPLETED, FAILED])
def test_a_release_heard_after_the_purchase_ended_changes_nothing(outcome: str) -> None:
    assert PREMIUM.on_hold_released(ended(outcome)) is IGNORE


@pytest.mark.parametrize("step", [RESERVE, CAPTURE])
def test_a_reservation_or_capture_nobody_answers_is_sent_again_then_released(step: str) -> None:
    assert [PREMIUM.on_deadline(saga(step=step, attempts=n)) for n in (1, 2)] == [Decision(retry=True)] * 2
    assert PREMIUM.on_deadline(saga(step=step, attempts=3)) == move(RELEASE, TIMEOUT, "accounts did not answer 3 times")


def test_a_release_is_sent_until_accounts_answers() -> None:
    assert PREMIUM.on_deadline(saga(step=RELEASE, attempts=50)) == Decision(retry=True)


@pytest.mark.parametrize("outcome", [COMPLETED, FAILED])
def test_an_ended_saga_has_no_deadline(outcome: str) -> None:
    assert PREMIUM.on_deadline(ended(outcome)) is IGNORE
    assert CREDITS.on_deadline(ended(outcome)) is IGNORE


# --- payouts and refunds ------------------------------------------------------------------------

credit = saga(id="ins-payout-1", kind=SagaKind.PAYOUT, step=CREDIT)


def test_a_landed_credit_completes_the_payout() -> None:
    assert CREDITS.on_credited(credit) == end(COMPLETED)


@pytest.mark.parametrize("reason", [TIMEOUT, "balance_cap_exceeded"])
def test_a_credit_that_lands_after_the_payout_gave_up_still_pays(reason: str) -> None:
    assert CREDITS.on_credited(ended(FAILED, reason=reason)) == end(COMPLETED)


def test_a_credit_heard_twice_pays_once() -> None:
    assert CREDITS.on_credited(ended(COMPLETED)) is IGNORE


def test_a_refused_credit_fails_with_accounts_reason() -> None:
    assert CREDITS.on_credit_rejected(credit, "balance_cap_exceeded", "cap") == end(
        FAILED, "balance_cap_exceeded", "cap"
    )
    assert CREDITS.on_credit_rejected(ended(COMPLETED), "balance_cap_exceeded", "") is IGNORE


def test_a_credit_nobody_answers_is_sent_again_then_fails_as_timed_out() -> None:
    assert CREDITS.on_deadline(saga(kind=SagaKind.PAYOUT, step=CREDIT, attempts=2)) == Decision(retry=True)
    assert CREDITS.on_deadline(saga(kind=SagaKind.REFUND, step=CREDIT, attempts=3)) == end(
        FAILED, TIMEOUT, "accounts did not answer 3 times"
    )


# --- what the API shows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        (saga(step=RESERVE), "reserving"),
        (saga(step=CAPTURE), "capturing"),
        (saga(step=RELEASE), "releasing"),
        (saga(step=CREDIT), "crediting"),
        (ended(COMPLETED), "done"),
        (ended(FAILED), "failed"),
    ],
)
def test_the_public_step_keeps_its_names(row: Row, shown: str) -> None:
    assert public_step(row) == shown


def test_a_failure_without_a_reason_reads_as_released() -> None:
    assert failure(ended(FAILED)) == ("released", "")
    assert failure(ended(FAILED, reason="insufficient_funds", detail="short")) == ("insufficient_funds", "short")


# --- whole sagas against a fake accounts, with lost and repeated messages -------------------------


@dataclass
class FakeAccounts:
    """accounts as the sagas see it: a hold (or a credit) per id, each command answered
    with its fact, a repeated command with the fact it produced the first time."""

    funds_minor: int
    hold: str | None = None  # active, captured, released, rejected
    credited: bool = False
    credit_refused: bool = False

    def answer(self, command: str) -> str:
        if command == RESERVE:
            if self.hold is None:
                self.hold = "active" if self.funds_minor >= 60_00 else "rejected"
            return {"active": "reserved", "rejected": "rejected", "captured": "captured", "released": "released"}[
                self.hold
            ]
        if command == CAPTURE:
            if self.hold == "active":
                self.hold = "captured"
            return "captured" if self.hold == "captured" else "capture_rejected"
        if command == RELEASE:
            if self.hold in (None, "active"):
                self.hold = "released"  # an unknown hold leaves a tombstone
            return {"released": "released", "captured": "captured", "rejected": "rejected"}[self.hold]
        if self.credit_refused:
            return "credit_rejected"
        self.credited = True
        return "credited"


def decide(row: Row, fact: str) -> Decision:
    if row.kind != SagaKind.PREMIUM:
        if fact == "credited":
            return CREDITS.on_credited(row)
        return CREDITS.on_credit_rejected(row, "balance_cap_exceeded", "")
    return {
        "reserved": lambda: PREMIUM.on_funds_reserved(row),
        "rejected": lambda: PREMIUM.on_reservation_rejected(row, "insufficient_funds", ""),
        "captured": lambda: PREMIUM.on_hold_captured(row),
        "capture_rejected": lambda: PREMIUM.on_capture_rejected(row, "hold_not_active", ""),
        "released": lambda: PREMIUM.on_hold_released(row),
    }[fact]()


@dataclass
class Run:
    """One saga and accounts, with the messages in flight between them."""

    saga: Row
    accounts: FakeAccounts
    commands: deque[str] = field(default_factory=deque)
    facts: deque[str] = field(default_factory=deque)
    ends: list[str] = field(default_factory=list)
    refunds: int = 0
    now: datetime = NOW

    def carry_out(self, decision: Decision) -> None:
        for step in advance(self.saga, decision, self.now, TIMEOUTS):
            if step == REFUND:
                self.refunds += 1
            else:
                self.commands.append(step)
        if decision.outcome is not None:
            self.ends.append(decision.outcome)

    def act(self, action: str) -> None:
        queue = self.commands if action.endswith("command") else self.facts
        if action == "deadline":
            self.now += timedelta(minutes=2)
            self.carry_out(
                PREMIUM.on_deadline(self.saga) if self.saga.kind == SagaKind.PREMIUM else CREDITS.on_deadline(self.saga)
            )
            return
        if not queue:
            return
        message = queue.popleft()
        if action.startswith("drop"):
            return
        if action.startswith("duplicate"):
            queue.appendleft(message)
        if queue is self.commands:
            self.facts.append(self.accounts.answer(message))
        else:
            self.carry_out(decide(self.saga, message))

    def settle(self) -> None:
        """No more faults: deliver everything, and let deadlines pass, until it ends."""
        for _ in range(100):
            while self.commands or self.facts:
                self.act("deliver command" if self.commands else "deliver fact")
            if self.saga.outcome is not None:
                return
            self.act("deadline")


ACTIONS = st.sampled_from(
    [
        "deliver command",
        "deliver fact",
        "drop command",
        "drop fact",
        "duplicate command",
        "duplicate fact",
        "deadline",
    ]
)


def premium_run(funds_minor: int) -> Run:
    run = Run(saga(), FakeAccounts(funds_minor))
    run.commands.append(RESERVE)
    return run


@given(actions=st.lists(ACTIONS, max_size=40), funds=st.sampled_from([10_00, 1_000_00]))
def test_a_purchase_ends_once_and_money_taken_is_cover_or_a_refund(actions: list[str], funds: int) -> None:
    run = premium_run(funds)
    for action in actions:
        run.act(action)
    run.settle()

    assert run.saga.outcome in (COMPLETED, FAILED)
    assert len(run.ends) == 1  # issued or failed, once, never both
    assert run.accounts.hold != "active"  # no hold outlives its saga
    if run.saga.outcome == COMPLETED:
        assert run.accounts.hold == "captured" and run.refunds == 0
    elif run.accounts.hold == "captured":
        assert run.refunds >= 1  # the customer paid for no cover: the premium goes back
    else:
        assert run.refunds == 0


@given(actions=st.lists(ACTIONS, max_size=40), refused=st.booleans())
@example(  # the credit lands, then every answer and every re-send is lost
    actions=["deliver command", "drop fact", "deadline", "drop command", "deadline", "drop command"], refused=False
)
def test_a_payout_ends_and_says_paid_only_once_the_credit_landed(actions: list[str], refused: bool) -> None:
    run = Run(saga(id="ins-payout-1", kind=SagaKind.PAYOUT, step=CREDIT), FakeAccounts(0, credit_refused=refused))
    run.commands.append(CREDIT)
    for action in actions:
        run.act(action)
    run.settle()

    assert run.saga.outcome in (COMPLETED, FAILED)
    assert run.ends.count(COMPLETED) <= 1
    if run.saga.outcome == COMPLETED:
        assert run.accounts.credited
    elif run.accounts.credited:
        # Every answer to every send was lost, so the payout gave up; the credit's fact,
        # whenever it arrives, still pays the claim.
        assert run.saga.reason == TIMEOUT
        run.carry_out(CREDITS.on_credited(run.saga))
        assert run.saga.outcome == COMPLETED
