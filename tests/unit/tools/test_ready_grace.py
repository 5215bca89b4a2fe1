"""How long `sandbank run` waits for readiness: its timeout on an idle machine, longer on
one busier than its cores (a loaded laptop or CI box starts slowly, not wrongly), never
more than `BUSY_GRACE` times the timeout."""

from __future__ import annotations

import pytest

from tools import stack


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack.os, "cpu_count", lambda: 2)


def load(monkeypatch: pytest.MonkeyPatch, one_minute: float) -> None:
    monkeypatch.setattr(stack.os, "getloadavg", lambda: (one_minute, one_minute, one_minute))


@pytest.mark.usefixtures("two_cores")
def test_an_idle_machine_gets_no_more_time(monkeypatch: pytest.MonkeyPatch) -> None:
    load(monkeypatch, 1.9)
    assert stack._busy_machine_grace(30, 30) == 0.0


@pytest.mark.usefixtures("two_cores")
def test_a_busy_machine_gets_half_the_timeout_more_up_to_three_times_it(monkeypatch: pytest.MonkeyPatch) -> None:
    load(monkeypatch, 9.5)
    assert stack._busy_machine_grace(30, 30) == 15.0
    assert stack._busy_machine_grace(30, 80) == 10.0
    assert stack._busy_machine_grace(30, 90) == 0.0
    assert stack._load() == "load average 9.5 on 2 cores"
