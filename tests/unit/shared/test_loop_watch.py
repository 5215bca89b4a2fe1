"""LoopWatch: a blocked event loop is noticed, logged and reported once."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from shared.runtime import LoopWatch


async def test_a_blocked_loop_is_counted_logged_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch(interval_s=0.01, warn_s=0.05)
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(0.03)
    with caplog.at_level(logging.WARNING, logger="shared.runtime"):
        time.sleep(0.12)  # noqa: ASYNC251 - blocking the loop is the point
        await asyncio.sleep(0.03)
    task.cancel()

    assert watch.stalls == 1
    assert any("event loop blocked for" in r.getMessage() for r in caplog.records)
    assert watch.take_worst() >= 0.09
    assert watch.take_worst() == 0.0  # reported once, then back to zero
