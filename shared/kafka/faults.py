"""Sandbox fault injection on a service's outgoing messages, applied by its outbox relay.

`delay` holds each batch back, `drop` loses messages (a step that hears nothing is
re-sent by its saga), `duplicate` sends every message twice (the consumers' inboxes
apply it once). Each fault lasts for a duration, then the relay is itself again.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Literal

from shared.kafka.producer import Header

Mode = Literal["delay", "drop", "duplicate"]
Batch = list[tuple[str, str | None, bytes, list[Header]]]


@dataclass
class Fault:
    mode: Mode
    until: float  # time.monotonic()
    delay_ms: int = 0
    probability: float = 1.0


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self.active: Fault | None = None
        self._rng = random.Random(seed)
        self.dropped = 0
        self.duplicated = 0

    def set(self, mode: Mode, duration_s: float, *, delay_ms: int = 0, probability: float = 1.0) -> Fault:
        self.active = Fault(mode, time.monotonic() + duration_s, delay_ms, probability)
        return self.active

    def clear(self) -> None:
        self.active = None

    def current(self) -> Fault | None:
        if self.active is not None and self.active.until <= time.monotonic():
            self.active = None
        return self.active

    async def tamper(self, batch: Batch) -> Batch:
        fault = self.current()
        if fault is None:
            return batch
        hit = [self._rng.random() < fault.probability for _ in batch]
        if fault.mode == "delay":
            if any(hit):
                await asyncio.sleep(fault.delay_ms / 1000)
            return batch
        if fault.mode == "drop":
            self.dropped += sum(hit)
            return [m for m, h in zip(batch, hit, strict=True) if not h]
        self.duplicated += sum(hit)
        out: Batch = []
        for message, h in zip(batch, hit, strict=True):
            out += [message, message] if h else [message]
        return out
