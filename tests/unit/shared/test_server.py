"""The process's uvicorn server: it ticks once a second, and a stop signal still ends its
main loop at once."""

from __future__ import annotations

import asyncio
import signal
import time

import uvicorn

from shared.server import TICK_S, Server


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("never called")


async def test_a_signal_ends_the_main_loop_at_once_not_at_the_next_tick() -> None:
    server = Server(uvicorn.Config(_app))
    task = asyncio.create_task(server.main_loop())
    await asyncio.sleep(0.05)  # waiting on its once-a-second tick now
    assert not task.done()

    began = time.monotonic()
    server.handle_exit(signal.SIGTERM, None)
    await asyncio.wait_for(task, TICK_S)
    assert time.monotonic() - began < TICK_S / 2
    assert server.should_exit
