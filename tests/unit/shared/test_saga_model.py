"""The saga primitive's pure half: deadlines with backoff, giving up, and how a decision
moves a saga's row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shared.saga.model import (
    COMPLETED,
    FAILED,
    IGNORE,
    Decision,
    Timeouts,
    advance,
    end,
    move,
    on_deadline,
)

NOW = datetime(2026, 5, 20, 8, 0, tzinfo=UTC)
STEP = timedelta(seconds=5)


@dataclass
class Row:
    """A saga row as any service's table has it, in memory."""

    id: str = "saga-1"
    kind: str = "test"
    step: str | None = "reserve"
    attempts: int = 1
    deadline_at: datetime | None = NOW + STEP
    outcome: str | None = None
    reason: str | None = None
    detail: str | None = None
    updated_at: datetime = NOW
    ended_at: datetime | None = None


@pytest.mark.parametrize(("attempt", "steps"), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (12, 4)])
def test_deadline_backs_off_one_step_per_try_up_to_four(attempt: int, steps: int) -> None:
    assert Timeouts(step=STEP).deadline(NOW, attempt) == NOW + STEP * steps


def test_deadline_follows_the_step_timeout() -> None:
    assert Timeouts(step=timedelta(milliseconds=250)).deadline(NOW, 2) == NOW + timedelta(milliseconds=500)


def test_an_overdue_step_is_sent_again_until_it_has_been_sent_max_attempts_times() -> None:
    timeouts = Timeouts(max_attempts=3)
    give_up = end(FAILED, "timed_out")
    assert on_deadline(Row(attempts=2), timeouts, give_up) == Decision(retry=True)
    assert on_deadline(Row(attempts=3), timeouts, give_up) == give_up


@pytest.mark.parametrize("row", [Row(step=None, outcome=COMPLETED), Row(step=None)], ids=["ended", "no step"])
def test_a_saga_with_nothing_in_flight_has_no_deadline_to_act_on(row: Row) -> None:
    assert on_deadline(row, Timeouts(), end(FAILED)) is IGNORE


def test_moving_to_a_step_sends_it_and_starts_its_attempts_and_deadline_again() -> None:
    row = Row(attempts=4)
    later = NOW + timedelta(seconds=30)

    sent = advance(row, move("capture"), later, Timeouts(step=STEP))

    assert sent == ("capture",)
    assert (row.step, row.attempts, row.deadline_at, row.updated_at) == ("capture", 1, later + STEP, later)


def test_a_retry_sends_the_current_step_again_and_backs_off() -> None:
    row = Row(attempts=2)

    sent = advance(row, Decision(retry=True), NOW, Timeouts(step=STEP))

    assert sent == ("reserve",)
    assert (row.step, row.attempts, row.deadline_at) == ("reserve", 3, NOW + STEP * 3)


def test_ending_clears_the_step_and_deadline_and_keeps_the_reason() -> None:
    row = Row()

    sent = advance(row, end(FAILED, "insufficient_funds", "x" * 400), NOW, Timeouts())

    assert sent == ()
    assert (row.step, row.deadline_at, row.outcome, row.ended_at) == (None, None, FAILED, NOW)
    assert (row.reason, len(row.detail or "")) == ("insufficient_funds", 300)


def test_completing_clears_a_reason_left_by_a_timeout() -> None:
    row = Row(step=None, outcome=FAILED, reason="timed_out", detail="no answer", deadline_at=None)

    advance(row, end(COMPLETED), NOW, Timeouts())

    assert (row.outcome, row.reason, row.detail) == (COMPLETED, None, None)


def test_a_compensation_is_sent_without_moving_an_ended_saga() -> None:
    row = Row(step=None, outcome=FAILED, deadline_at=None, updated_at=NOW - STEP)

    sent = advance(row, Decision(send=("release",)), NOW, Timeouts())

    assert sent == ("release",)
    assert (row.step, row.outcome, row.deadline_at) == (None, FAILED, None)


def test_an_ignored_decision_changes_nothing() -> None:
    row = Row()
    before = Row(**vars(row))

    assert advance(row, IGNORE, NOW + STEP, Timeouts()) == ()
    assert row == before


def test_a_step_may_wait_until_a_deadline_of_its_own() -> None:
    row = Row()
    session_end = NOW + timedelta(hours=7)

    sent = advance(row, move("rest", deadline=session_end), NOW, Timeouts(step=STEP))

    assert sent == ("rest",)
    assert (row.step, row.attempts, row.deadline_at) == ("rest", 1, session_end)


def test_a_reason_without_a_detail_keeps_none() -> None:
    row = Row()

    advance(row, move("release", "customer"), NOW, Timeouts())

    assert (row.reason, row.detail) == ("customer", None)
