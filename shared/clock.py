"""The sandbox clock: real time plus an offset an operator may move forward, so
T+1 settlement, waiting periods and daily limits can be exercised in a test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BANK_TZ = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def bank_day(self) -> date:
        """Today in Beijing time: the day daily limits reset on."""
        return self.now().astimezone(BANK_TZ).date()

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
