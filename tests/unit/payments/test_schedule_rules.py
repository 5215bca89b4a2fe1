"""The calendar of scheduled transfers and standing orders."""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.schedule_rules import Repeat, add_months, due_runs, next_run, run_date


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
    ],
)
def test_a_month_later_is_the_same_day_or_the_months_last(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("repeat", "n", "expected"),
    [
        (Repeat.NONE, 0, date(2026, 1, 31)),
        (Repeat.NONE, 1, None),
        (Repeat.DAILY, 1, date(2026, 2, 1)),
        (Repeat.DAILY, 29, date(2026, 3, 1)),
        (Repeat.WEEKLY, 1, date(2026, 2, 7)),
        (Repeat.WEEKLY, 4, date(2026, 2, 28)),
        (Repeat.MONTHLY, 1, date(2026, 2, 28)),
        (Repeat.MONTHLY, 2, date(2026, 3, 31)),  # back to the 31st, not stuck on the 28th
        (Repeat.MONTHLY, 3, date(2026, 4, 30)),
    ],
)
def test_each_run_is_counted_from_the_first(repeat: Repeat, n: int, expected: date | None) -> None:
    assert run_date(date(2026, 1, 31), repeat, n) == expected


def test_a_one_off_runs_once() -> None:
    assert next_run(date(2026, 5, 1), Repeat.NONE, 0) == date(2026, 5, 1)
    assert next_run(date(2026, 5, 1), Repeat.NONE, 1) is None


def test_a_count_ends_the_schedule_after_that_many_runs() -> None:
    assert next_run(date(2026, 5, 1), Repeat.DAILY, 2, count=3) == date(2026, 5, 3)
    assert next_run(date(2026, 5, 1), Repeat.DAILY, 3, count=3) is None


def test_the_end_date_is_the_last_day_it_may_run() -> None:
    assert next_run(date(2026, 5, 1), Repeat.WEEKLY, 1, end_on=date(2026, 5, 8)) == date(2026, 5, 8)
    assert next_run(date(2026, 5, 1), Repeat.WEEKLY, 2, end_on=date(2026, 5, 14)) is None


def test_nothing_is_due_before_the_first_run() -> None:
    assert due_runs(date(2026, 5, 3), Repeat.DAILY, 0, date(2026, 5, 2)) == []


def test_each_missed_day_of_a_daily_order_runs_once_in_order() -> None:
    assert due_runs(date(2026, 5, 1), Repeat.DAILY, 1, date(2026, 5, 4)) == [
        date(2026, 5, 2),
        date(2026, 5, 3),
        date(2026, 5, 4),
    ]


def test_missed_runs_stop_at_the_count() -> None:
    due = due_runs(date(2026, 5, 1), Repeat.DAILY, 0, date(2026, 5, 30), count=2)
    assert due == [date(2026, 5, 1), date(2026, 5, 2)]


def test_a_monthly_order_catches_up_month_by_month() -> None:
    assert due_runs(date(2026, 1, 31), Repeat.MONTHLY, 0, date(2026, 4, 29)) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]
