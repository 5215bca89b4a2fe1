"""The sandbox clock, as the operator reads and moves it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sandbank_testing.basics import SandbankError, expect, parse_duration

if TYPE_CHECKING:
    from sandbank_testing.bank import Sandbank


class Clock:
    """The sandbox clock every process reads (T+1, waiting periods, schedules, daily limits).
    It runs ahead of real time by an offset that only an operator moves, never backwards
    of real time."""

    def __init__(self, bank: Sandbank) -> None:
        self._bank = bank

    def now(self) -> datetime:
        return datetime.fromisoformat(self.read()["now"])

    def bank_day(self) -> date:
        """Today in Beijing time on the sandbox clock: the day schedules and daily limits go by."""
        return date.fromisoformat(self.read()["bank_day"])

    def read(self) -> dict[str, Any]:
        """`offset_s`, `now` and `bank_day` as the gateway reads them."""
        return dict(expect(self._bank.as_operator("GET", "/v1/sandbox/clock"), 200))

    def advance(
        self,
        by: str | float | timedelta = 0,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move every process's clock forward: `advance("1d2h")`, `advance(days=1)`; the new now."""
        if isinstance(by, timedelta):
            step = by.total_seconds()
        else:
            step = parse_duration(by) if isinstance(by, str) else float(by)
        step += days * 86_400 + hours * 3_600 + minutes * 60 + seconds
        if step < 0:
            raise SandbankError("the sandbox clock only moves forward")
        return self._post({"advance_s": step})

    def set(self, when: datetime | str) -> datetime:
        """Put every process's clock at `when` (ISO 8601 with a zone, or an aware datetime),
        which must not be before real time."""
        moment = datetime.fromisoformat(when) if isinstance(when, str) else when
        if moment.tzinfo is None:
            raise SandbankError(f"{when} has no time zone: give one, e.g. 2026-12-01T09:30:00+08:00")
        offset = (moment - datetime.now(UTC)).total_seconds()
        if offset < 0:
            raise SandbankError(f"the sandbox clock runs at or ahead of real time; {moment.isoformat()} has passed")
        return self._post({"offset_s": offset})

    def _post(self, body: dict[str, float]) -> datetime:
        self._bank.own_stack("moving the clock")
        answer = expect(self._bank.as_operator("POST", "/v1/sandbox/clock", json=body), 200)
        missed = [s for s, state in answer["services"].items() if state != "ok"]
        if missed:
            raise SandbankError(f"the clock did not move in {', '.join(missed)}: {answer}")
        return datetime.fromisoformat(answer["now"])
