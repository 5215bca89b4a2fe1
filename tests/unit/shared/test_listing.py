"""A range of bank days (`?from=&to=`) as the instants a list filters its rows by."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.listing import bank_days
from shared.problems import Problem


def test_a_bank_day_runs_from_beijing_midnight_to_the_next() -> None:
    start, end = bank_days(date(2026, 11, 25), date(2026, 11, 25))

    assert start == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def test_an_open_end_filters_nothing_on_that_side() -> None:
    assert bank_days(None, None) == (None, None)
    assert bank_days(date(2026, 11, 25), None)[1] is None
    assert bank_days(None, date(2026, 11, 25))[0] is None


def test_the_last_day_there_is_leaves_the_range_open_instead_of_overflowing() -> None:
    assert bank_days(date(2026, 1, 1), date.max)[1] is None


def test_the_first_day_there_is_leaves_the_range_open_instead_of_overflowing() -> None:
    """Its Beijing midnight is in year 0 in UTC, which no datetime holds."""
    start, end = bank_days(date.min, date.min)
    assert start is None
    assert end is not None and end.date() == date(1, 1, 2)  # the day's end stands


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(Problem) as refused:
        bank_days(date(2026, 11, 26), date(2026, 11, 25))

    assert refused.value.status == 422
