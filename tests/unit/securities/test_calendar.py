"""The trading calendar: weekends and the 2026 exchange holidays closed, the sessions,
the next trading day and the next open, and the market's hours in `a_share` mode."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.securities.domain import HOLIDAYS_2026, HoursMode, TradingCalendar, closed_detail, market_open
from services.securities.domain.rules import MARKET_TZ

CAL = TradingCalendar()


def _beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MARKET_TZ)


def test_the_2026_holidays_are_the_weekdays_of_the_public_holidays() -> None:
    assert all(d.weekday() < 5 and d.year == 2026 for d in HOLIDAYS_2026)
    golden_week = [date(2026, 10, d) for d in (1, 2, 5, 6, 7)]
    assert set(golden_week) <= HOLIDAYS_2026
    assert [CAL.closed_because(date(2026, 10, d)) for d in range(1, 10)] == [
        "holiday",
        "holiday",
        "weekend",
        "weekend",
        "holiday",
        "holiday",
        "holiday",
        None,
        None,
    ]
    assert len(HOLIDAYS_2026) == 19  # 2 + 6 + 1 + 3 + 1 + 1 + 5 weekdays


@pytest.mark.parametrize(
    ("day", "following"),
    [
        (date(2026, 11, 27), date(2026, 11, 30)),  # Friday: the next trading day is Monday
        (date(2026, 9, 30), date(2026, 10, 8)),  # the eve of Golden Week
        (date(2026, 2, 13), date(2026, 2, 24)),  # before the Spring Festival
        (date(2026, 12, 31), date(2027, 1, 1)),  # 2027's holidays are a setting, not known here
    ],
)
def test_the_next_trading_day_skips_weekends_and_holidays(day: date, following: date) -> None:
    assert CAL.next_trading_day(day) == following


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2026-10-08 10:00", True),
        ("2026-10-08 12:00", False),  # the lunch break
        ("2026-10-08 09:20", False),  # the opening call auction is not modelled: closed
        ("2026-10-08 15:00", False),
        ("2026-10-06 10:00", False),  # a Tuesday of Golden Week
        ("2026-10-10 10:00", False),  # Saturday
    ],
)
def test_the_market_is_open_in_sessions_of_trading_days_in_a_share_mode(when: str, open_: bool) -> None:
    assert market_open(HoursMode.A_SHARE, _beijing(when), CAL) is open_
    assert market_open(HoursMode.ALWAYS_OPEN, _beijing(when), CAL) is True


def test_a_closed_market_says_why_and_when_it_opens_next() -> None:
    detail = closed_detail(_beijing("2026-10-05 10:00"), CAL)
    assert "Mon 10:00 (2026-10-05, an exchange holiday)" in detail
    assert detail.endswith("opens next at Thu 2026-10-08 09:30")
    assert closed_detail(_beijing("2026-10-08 12:00"), CAL).endswith("opens next at Thu 2026-10-08 13:00")


def test_a_configured_holiday_list_replaces_the_default() -> None:
    cal = TradingCalendar.of([date(2027, 1, 1)])
    assert not cal.is_trading_day(date(2027, 1, 1)) and cal.is_trading_day(date(2026, 10, 5))
    assert cal.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("day", "last"),
    [
        (date(2026, 10, 9), date(2026, 10, 9)),  # a trading Friday: itself
        (date(2026, 10, 10), date(2026, 10, 9)),  # Saturday: the Friday before
        (date(2026, 10, 12), date(2026, 10, 12)),  # Monday: itself
        (date(2026, 10, 7), date(2026, 9, 30)),  # Golden Week: the last day before it
    ],
)
def test_the_last_trading_day_on_or_before_a_day(day: date, last: date) -> None:
    assert CAL.last_trading_day(day) == last
