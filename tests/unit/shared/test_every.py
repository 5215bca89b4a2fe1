"""The periodic background loop the services' sweepers and ticker run on."""

from __future__ import annotations

import asyncio
import contextlib

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
