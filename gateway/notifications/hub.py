"""In-process pub/sub for the notification streams.

An open stream subscribes for its customer and sleeps on an `asyncio.Event`; whoever
commits notifications calls `wake(customer_id)` after the commit (the consumer through
`uow.after_commit`), and each stream then reads the rows after its cursor from the
database. The event carries no payload: the database stays the one source of truth, so
a wake-up can never deliver what was rolled back, and several rows committed together
arrive in one read. Streams in another gateway replica are not woken from here.

`recorders` hear of notifications before that, inside the transaction that records them
(gateway/notifications/store.py), so what they write commits or rolls back with them:
webhooks turn them into deliveries (gateway/webhooks/store.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.presence import Presence
from shared.kafka.messaging import UnitOfWork


@dataclass(eq=False)
class Subscriber:
    customer_id: str
    session_id: str = ""
    event: asyncio.Event = field(default_factory=asyncio.Event)


class Recorder(Protocol):
    async def recorded(self, uow: UnitOfWork, notifications: Sequence[dict[str, Any]]) -> None:
        """Called with the notification rows a transaction writes, before it commits."""


class NotificationHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self.wakeups = 0
        self.recorders: list[Recorder] = []
        # Whether any device has a push token (sandbox pushes): registering one marks it.
        self.devices = Presence()

    def subscribe(self, customer_id: str, *, session_id: str = "") -> Subscriber:
        """How many a customer may open is the stream's business (gateway/streams.py)."""
        subscriber = Subscriber(customer_id, session_id)
        self._subscribers.setdefault(customer_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        streams = self._subscribers.get(subscriber.customer_id)
        if streams is None:
            return
        streams.discard(subscriber)
        if not streams:
            del self._subscribers[subscriber.customer_id]

    def wake(self, customer_id: str) -> None:
        for subscriber in self._subscribers.get(customer_id, ()):
            subscriber.event.set()
            self.wakeups += 1

    def wake_session(self, session_id: str) -> None:
        """A session ended: its streams wake, see it, and close."""
        for streams in self._subscribers.values():
            for subscriber in streams:
                if subscriber.session_id == session_id:
                    subscriber.event.set()

    def wake_everyone(self) -> None:
        for customer_id in list(self._subscribers):
            self.wake(customer_id)

    def streams(self, customer_id: str) -> int:
        return len(self._subscribers.get(customer_id, ()))

    @property
    def open_streams(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
