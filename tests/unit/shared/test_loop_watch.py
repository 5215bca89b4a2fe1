"""LoopWatch: a blocked event loop is noticed, logged and reported once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.runtime import LoopWatch


async def test_a_blocked_loop_is_counted_logged_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    # The watch reads this clock, so the stall is exactly what the test says it is,
    # however loaded the machine running it.
    now = [100.0]
    watch = LoopWatch(interval_s=0.001, warn_s=0.05, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="shared.runtime"):
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0)  # the watch's timer is set, due at 100.001
        now[0] = 100.121  # its timer fires 120 ms late
        await asyncio.sleep(0.01)
        task.cancel()

    assert watch.stalls == 1
    assert [r.getMessage() for r in caplog.records] == ["event loop blocked for 120 ms"]
    assert watch.take_worst() == pytest.approx(0.12)
    assert watch.take_worst() == 0.0  # reported once, then back to zero


async def test_an_idle_watch_looks_rarely_and_work_brings_it_back_at_once() -> None:
    ticks: list[float] = []
    # Idle, it looks on the beats of the loop's clock (multiples of `idle_interval_s`): at
    # 10 s one fell inside the 200 ms below once in fifty runs; at 1,000 s, once in 5,000.
    watch = LoopWatch(interval_s=0.01, idle_interval_s=1000.0, busy_s=0.3)
    watch.observe = ticks.append
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.sleep(0.5)  # busy for 300 ms after its start, then idle
        assert watch.idle
        seen = len(ticks)
        await asyncio.sleep(0.2)
        assert len(ticks) == seen  # idle: no look in 200 ms

        watch.busy()  # a request or a batch came in
        await asyncio.sleep(0.1)
        assert not watch.idle
        assert len(ticks) >= seen + 3  # every 10 ms again, not at the idle beat
    finally:
        task.cancel()
