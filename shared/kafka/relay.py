from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import delete, func, select

from shared.aio import within
from shared.db import Database, QuickSelect
from shared.kafka.messaging import MessagingTables
from shared.kafka.producer import Header, Producer

log = logging.getLogger(__name__)

# Publishing hook for sandbox fault injection: receives the batch about to be sent and
# returns what to send instead (delayed, thinned out or duplicated).
Tamper = Callable[[list[tuple[str, str | None, bytes, list[Header]]]], Awaitable[list]]


class OutboxRelay:
    """Publishes committed outbox rows to Kafka in id order, then deletes them.

    Woken by `db.outbox_written` as soon as a unit of work commits; the idle
    timeout only matters for rows left by a crashed process or another replica.
    A row is deleted only after the broker acknowledged it, so a crash in between
    re-sends it (at-least-once; consumers dedupe through their inbox).
    """

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        producer: Producer,
        *,
        batch_size: int = 500,
        idle_s: float = 1.0,
        linger_s: float = 0.005,
    ) -> None:
        self.db = db
        self.tables = tables
        self.producer = producer
        self.batch_size = batch_size
        self.idle_s = idle_s
        # Woken by a commit, wait this long before reading the outbox, so the commits of
        # the next few milliseconds go out in the same drain (like a producer's linger.ms):
        # a drain's read, send and delete cost the same for one row as for fifty.
        self.linger_s = linger_s
        self.tamper: Tamper | None = None
        self.published = 0
        self.healthy = True
        outbox = tables.outbox
        # Read after every commit that wrote messages: kept off the session.
        self._next = QuickSelect(
            db,
            select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers)
            .order_by(outbox.c.id)
            .limit(batch_size),
        )

    async def backlog(self) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(self.tables.outbox)) or 0)

    async def drain_once(self) -> int:
        outbox = self.tables.outbox
        rows = await self._next.all()
        if not rows:
            return 0
        batch = [
            (topic, key, payload, [(k, v.encode()) for k, v in headers]) for _, topic, key, payload, headers in rows
        ]
        if self.tamper is not None:
            batch = await self.tamper(batch)
        await self.producer.send_many(batch)
        async with self.db.write() as session, session.begin():
            await session.execute(delete(outbox).where(outbox.c.id.in_([r[0] for r in rows])))
        self.published += len(rows)
        return len(rows)

    async def run(self) -> None:
        wake = self.db.outbox_written
        while True:
            wake.clear()
            try:
                sent = await self.drain_once()
                self.healthy = True
            except asyncio.CancelledError:
                raise
            except Exception:
                self.healthy = False
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if sent < self.batch_size:
                try:
                    await within(wake.wait(), self.idle_s)
                except TimeoutError:
                    continue
                if self.linger_s:
                    await asyncio.sleep(self.linger_s)
