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
