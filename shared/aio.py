"""asyncio as Sandbank uses it on Python 3.11."""

from __future__ import annotations

import asyncio
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
