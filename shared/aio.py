"""asyncio as Sandbank uses it on Python 3.11."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout_s: float | None) -> T:
    """What `awaitable` gives, or TimeoutError after `timeout_s` seconds.

    In place of `asyncio.wait_for`, which on Python 3.11 swallows a cancellation that
    arrives in the same turn of the loop as the awaited thing finishes, so the cancelled
    task runs on (python/cpython#86296, fixed in 3.12). A loop that waits that way never
    ends when its process stops: the outbox relay, woken by a commit as the runtime
    cancelled it, held the integration tests' shutdown forever."""
    async with asyncio.timeout(timeout_s):
        return await awaitable


def next_beat(now: float, interval_s: float) -> float:
    """The next multiple of `interval_s` after `now` on the event loop's clock. The loops
    of a process that look every second (the WAL checkpoint, the saga sweeper, the policy
    lifecycle, the loop watch at rest, uvicorn's tick) then all wake on the same beat, once a second for
    all of them rather than once each at their own phase. A millisecond's slack: a timer
    the loop runs a hair early does not make a beat of its own."""
    return (math.floor(now / interval_s + 0.001) + 1) * interval_s
