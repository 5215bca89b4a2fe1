"""The A-share trading calendar on the sandbox clock: trading days (weekdays that are
not exchange holidays), the continuous sessions, and whether the market is open. Pure.

The 2026 holidays are the weekdays the Shanghai and Shenzhen exchanges close for the
public holidays of the State Council's 2026 holiday notice (国务院办公厅关于2026年部分节假日
安排的通知), which the exchanges' closure notices follow: the exchanges close on those
weekdays and never trade on a weekend, including the weekend days the notice makes
working days (调休). Another year's list is a setting (`SECURITIES_HOLIDAYS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

ClosedReason = Literal["weekend", "holiday"]

SESSIONS = ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))
CLOSE = time(15, 0)


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# Weekdays closed in 2026 (weekends are closed anyway).
HOLIDAYS_2026: frozenset[date] = frozenset(
    d
    for first, last in (
        (date(2026, 1, 1), date(2026, 1, 2)),  # New Year's Day (1-3 January)
        (date(2026, 2, 16), date(2026, 2, 23)),  # Spring Festival (15-23 February)
        (date(2026, 4, 6), date(2026, 4, 6)),  # Qingming (4-6 April)
        (date(2026, 5, 1), date(2026, 5, 5)),  # Labour Day (1-5 May)
        (date(2026, 6, 19), date(2026, 6, 19)),  # Dragon Boat (19-21 June)
        (date(2026, 9, 25), date(2026, 9, 25)),  # Mid-Autumn (25-27 September)
        (date(2026, 10, 1), date(2026, 10, 7)),  # National Day (1-7 October)
    )
    for d in _span(first, last)
    if d.weekday() < 5
)


@dataclass(frozen=True)
class TradingCalendar:
    holidays: frozenset[date] = HOLIDAYS_2026

    @classmethod
    def of(cls, holidays: Iterable[date]) -> TradingCalendar:
        return cls(frozenset(holidays))

    def closed_because(self, day: date) -> ClosedReason | None:
        """Why `day` has no trading (`weekend`, `holiday`), or None on a trading day."""
        if day.weekday() >= 5:
            return "weekend"
        if day in self.holidays:
            return "holiday"
        return None

    def is_trading_day(self, day: date) -> bool:
        return self.closed_because(day) is None

    def next_trading_day(self, day: date) -> date:
        """The first trading day after `day`."""
        nxt = day + timedelta(days=1)
        for _ in range(400):  # no year closes that long; a bad holiday list must not hang us
            if self.is_trading_day(nxt):
                return nxt
            nxt += timedelta(days=1)
        raise ValueError(f"no trading day within 400 days after {day}")

    def last_trading_day(self, day: date) -> date:
        """The latest trading day on or before `day`."""
        for _ in range(400):
            if self.is_trading_day(day):
                return day
            day -= timedelta(days=1)
        raise ValueError(f"no trading day within 400 days before {day}")

    def in_session(self, local: datetime) -> bool:
        """Continuous trading now (`local` in Beijing time): a trading day, inside a session."""
        now = local.time()
        return self.is_trading_day(local.date()) and any(start <= now < end for start, end in SESSIONS)

    def next_open(self, local: datetime) -> datetime:
        """When continuous trading next starts at or after `local` (Beijing time)."""
        day = local.date()
        for _ in range(400):
            if self.is_trading_day(day):
                for start, _end in SESSIONS:
                    at = datetime.combine(day, start, tzinfo=local.tzinfo)
                    if at >= local:
                        return at
            day += timedelta(days=1)
        raise ValueError(f"no session within 400 days after {local}")
