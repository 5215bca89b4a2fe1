"""The periodic background loop the services' sweepers and ticker run on."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shared.aio import next_beat
from shared.runtime import every


async def test_a_failed_run_is_logged_and_the_next_one_goes_ahead() -> None:
    runs: list[int] = []
    done = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the first run fails")
        if len(runs) == 3:
            done.set()

    loop = every(0.001, "test job", job)
    assert loop.__name__ == "test job"
    task = asyncio.create_task(loop())
    await asyncio.wait_for(done.wait(), 2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert runs[:3] == [0, 1, 2]


def test_the_beat_is_the_next_multiple_of_the_interval() -> None:
    assert next_beat(10.2, 1.0) == 11.0
    assert next_beat(11.0, 1.0) == 12.0
    assert next_beat(10.9995, 1.0) == 12.0  # a timer run a hair early: no beat of its own
    assert next_beat(11.2, 0.5) == 11.5


async def test_loops_of_one_interval_sleep_until_the_same_beats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each loop sleeps until the next multiple of its interval on the loop's clock, whatever
    its phase: loops of one interval wake on the same beats. The deadlines are asserted, not
    the times the jobs ran, which a loaded machine makes late."""
    loop = asyncio.get_running_loop()
    sleep, time = asyncio.sleep, loop.time
    last_read = [0.0]
    deadlines: list[float] = []

    def read() -> float:
        last_read[0] = time()
        return last_read[0]

    async def recorded(delay: float, result: object = None) -> object:
        # The loop read the clock just before it asked to sleep: that time plus the delay.
        deadlines.append(last_read[0] + delay)
        return await sleep(delay, result)

    async def job() -> None:
        return None

    await sleep(0.013)  # the second loop starts at another phase
    monkeypatch.setattr(loop, "time", read)
    monkeypatch.setattr(asyncio, "sleep", recorded)
    first = asyncio.create_task(every(0.05, "sweeper", job)())
    await sleep(0.021)
    second = asyncio.create_task(every(0.05, "checkpoint", job)())
    await sleep(0.2)
    for task in (first, second):
        task.cancel()
    assert len(deadlines) >= 4
    for deadline in deadlines:
        assert abs(deadline / 0.05 - round(deadline / 0.05)) < 1e-6
