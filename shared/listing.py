"""Filters the lists share: a range of bank days, `?from=&to=`, the same in every service
and in the gateway rows that pass them through.

A day is a bank day on the sandbox clock (Beijing time, as `Clock.bank_day`), both ends
included: `?from=2026-11-25&to=2026-11-25` is everything stamped that day in Beijing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query

from shared.clock import BANK_TZ
from shared.problems import Problem

FromDay = Annotated[date | None, Query(alias="from", description="First bank day (Beijing time, YYYY-MM-DD), included")]
ToDay = Annotated[date | None, Query(alias="to", description="Last bank day (Beijing time, YYYY-MM-DD), included")]


def bank_days(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """The instants `[start, end)` that bank days `first`..`last` cover; None where open.
    A range that ends before it starts is a 422: an empty answer would hide the mistake."""
    if first is not None and last is not None and last < first:
        raise Problem(422, "validation-error", f"to ({last}) is before from ({first})")
    # 0001-01-01 begins in year 0 in UTC, which no datetime holds: from it is open-ended too.
    start = datetime.combine(first, time(0), tzinfo=BANK_TZ) if first is not None and first > date.min else None
    end = None
    if last is not None and last < date.max:  # 9999-12-31 is open-ended, not an overflow
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=BANK_TZ)
    return start, end
