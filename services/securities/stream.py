"""In-process fan-out of quote changes to Server-Sent Event subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from services.securities.domain import Quote

QUEUE_SIZE = 256


@dataclass(eq=False)
class Subscription:
    symbols: frozenset[str]
    queue: asyncio.Queue[Quote] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0


class QuoteHub:
    """Every subscriber gets each change of its symbols. A subscriber too slow to keep
    up loses its oldest queued quotes, never blocks the ticker: each quote is a full
    snapshot, so the newer one supersedes it."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @contextmanager
    def subscribe(self, symbols: Iterable[str]) -> Iterator[Subscription]:
        sub = Subscription(frozenset(symbols))
        self._subscriptions.add(sub)
        try:
            yield sub
        finally:
            self._subscriptions.discard(sub)

    def publish(self, quotes: Iterable[Quote]) -> None:
        quotes = list(quotes)
        for sub in self._subscriptions:
            for quote in quotes:
                if quote.symbol not in sub.symbols:
                    continue
                if sub.queue.full():
                    sub.queue.get_nowait()
                    sub.dropped += 1
                sub.queue.put_nowait(quote)
