"""The calendar of a scheduled transfer or standing order, as pure functions: which bank
days it runs on, and which run is next.

Runs are counted from the first (`n = 0`), and each is computed from `first_run_on`, not
from the run before it: a monthly order from 31 January runs on 28 (or 29) February and
then on 31 March again, not on the 28th for ever after.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum


class Repeat(StrEnum):
    NONE = "none"  # a one-off transfer on a later day
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"  # on the first run's day of the month, or the month's last day


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, clamped to that month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def run_date(first_run_on: date, repeat: Repeat, n: int) -> date | None:
    """The day of run `n` (0: the first), or None when the schedule has no such run."""
    if n == 0:
        return first_run_on
    if repeat is Repeat.NONE:
        return None
    if repeat is Repeat.DAILY:
        return first_run_on + timedelta(days=n)
    if repeat is Repeat.WEEKLY:
        return first_run_on + timedelta(weeks=n)
    return add_months(first_run_on, n)


def next_run(
    first_run_on: date, repeat: Repeat, runs_made: int, *, end_on: date | None = None, count: int | None = None
) -> date | None:
    """The day of the next run after `runs_made` runs, or None when the schedule is done:
    its `count` runs made, or its next day past `end_on` (the last day it may run)."""
    if count is not None and runs_made >= count:
        return None
    day = run_date(first_run_on, repeat, runs_made)
    if day is None or (end_on is not None and day > end_on):
        return None
    return day


def due_runs(
    first_run_on: date,
    repeat: Repeat,
    runs_made: int,
    today: date,
    *,
    end_on: date | None = None,
    count: int | None = None,
) -> list[date]:
    """Every run due by `today` that has not been made, oldest first. A schedule that fell
    behind (the sandbox clock jumped several days) makes each missed run once, in order,
    rather than only the latest: what was promised for each day is paid."""
    due: list[date] = []
    while (day := next_run(first_run_on, repeat, runs_made + len(due), end_on=end_on, count=count)) is not None:
        if day > today:
            break
        due.append(day)
    return due
