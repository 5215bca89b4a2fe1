"""The periodic background loop the services' sweepers and ticker run on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

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


async def test_loops_of_one_interval_run_on_the_same_beats() -> None:
    loop = asyncio.get_running_loop()
    runs: dict[str, list[float]] = {"sweeper": [], "checkpoint": []}

    def job(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            runs[name].append(loop.time())

        return run

    await asyncio.sleep(0.013)  # the second loop starts at another phase
    first = asyncio.create_task(every(0.05, "sweeper", job("sweeper"))())
    await asyncio.sleep(0.021)
    second = asyncio.create_task(every(0.05, "checkpoint", job("checkpoint"))())
    await asyncio.sleep(0.3)
    for task in (first, second):
        task.cancel()
    assert len(runs["checkpoint"]) >= 3
    for b in runs["checkpoint"]:  # each on a beat of the sweeper's, in the same turn of the loop
        assert any(abs(a - b) < 0.005 for a in runs["sweeper"])
        assert abs(b / 0.05 - round(b / 0.05)) < 0.1
