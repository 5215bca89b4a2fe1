"""Live streams' share of the gateway: how many of each kind (the notification stream, a
relayed market stream) one customer may hold open at once, so one customer cannot hold
what everyone else's streams need.

A stream takes a slot before it answers (429 `too-many-streams` when its customer holds
them all) and gives it back when the answer ends, however it ends: finished, the phone
gone, an error. Slots live in this process's memory, like the rate limits.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterable, Callable

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from shared.problems import Problem

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
RETRY_AFTER_S = 15


class Slot:
    """One open stream. `release` may be called more than once; only the first counts."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back: Callable[[], None] | None = give_back

    def release(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()


class StreamSlots:
    """Open streams by kind (the public path of the stream) and customer, each capped at
    `per_customer`."""

    def __init__(self, per_customer: int) -> None:
        if per_customer < 1:
            raise ValueError("a customer needs at least one stream of each kind")
        self.per_customer = per_customer
        self._open: dict[tuple[str, str], int] = {}

    def take(self, kind: str, customer_id: str) -> Slot:
        key = (kind, customer_id)
        held = self._open.get(key, 0)
        if held >= self.per_customer:
            raise Problem(
                429,
                "too-many-streams",
                f"at most {self.per_customer} streams of {kind} may be open at once; close one first",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self._open[key] = held + 1
        return Slot(lambda: self._give_back(key))

    def _give_back(self, key: tuple[str, str]) -> None:
        left = self._open[key] - 1
        if left:
            self._open[key] = left
        else:
            del self._open[key]

    def held(self, kind: str, customer_id: str) -> int:
        return self._open.get((kind, customer_id), 0)


class HeldStream(StreamingResponse):
    """A Server-Sent Events answer holding its slot until the answer ends."""

    def __init__(self, content: AsyncIterable[bytes], slot: Slot, *, background: BackgroundTask | None = None) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS, background=background)
        self.slot = slot
        weakref.finalize(self, slot.release)  # an answer dropped before it was sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()
