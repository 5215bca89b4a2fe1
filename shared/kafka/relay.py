from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, Update, bindparam, delete, func, select, update

from shared.aio import within
from shared.db import Bound, Database, QuickSelect
from shared.events.envelope import utcnow
from shared.kafka.messaging import MessagingTables
from shared.kafka.producer import Header, Producer
from shared.tracing import Tracing, span_headers, trace_headers

log = logging.getLogger(__name__)

# Publishing hook for sandbox fault injection: receives the batch about to be sent and
# returns what to send instead (delayed, thinned out or duplicated).
Tamper = Callable[[list[tuple[str, str | None, bytes, list[Header]]]], Awaitable[list]]

# How often published rows older than the retention are deleted.
PRUNE_EVERY_S = 5.0


class OutboxRelay:
    """Publishes committed outbox rows to Kafka in id order, and keeps them a while.

    Woken by `db.outbox_written` as soon as a unit of work commits; the idle timeout only
    matters for rows left by a crashed process or another replica, so while its looks
    find nothing it doubles from `idle_s` to `idle_max_s` (an idle process read its
    outbox every second), and a commit or a look that found rows brings it back. A row is marked
    published only after the broker acknowledged it, so a crash in between re-sends it
    (at-least-once; consumers dedupe through their inbox).

    On PostgreSQL, where several replicas share the outbox (ADR 0018), a drain claims its
    rows: `FOR UPDATE SKIP LOCKED` in the transaction that marks them, held over the send,
    so each row goes out from one replica and a replica that dies mid-send gives its rows
    back. SQLite has one writer, hence one replica, and reads without a claim.

    Published rows stay for `retention_s` (ADR 0013): the broker is a transport, not the
    record, and a broker that comes back empty (the embedded one keeps messages in memory)
    gets them again from `republish`. Older ones are deleted every few seconds.
    """

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        producer: Producer,
        *,
        batch_size: int = 500,
        idle_s: float = 1.0,
        idle_max_s: float = 8.0,
        linger_s: float = 0.005,
        retention_s: float = 120.0,
        tracing: Tracing | None = None,
    ) -> None:
        self.tracing = tracing
        self.db = db
        self.tables = tables
        self.producer = producer
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.idle_max_s = idle_max_s
        # Woken by a commit while commits keep coming, wait this long before reading the
        # outbox, so the commits of the next few milliseconds go out in the same drain (like
        # a producer's linger.ms): a drain's read, send and mark cost the same for one row
        # as for fifty. The first commit after a quiet spell goes out at once.
        self.linger_s = linger_s
        self.retention_s = retention_s
        self.tamper: Tamper | None = None
        self.published = 0
        self.republished = 0
        self.healthy = True
        # (monotonic time, highest id) of each drain: what a prune may delete by key range.
        self._drains: deque[tuple[float, int]] = deque()
        self._pruned_at = 0.0
        self._scan_on_prune = True
        outbox = tables.outbox
        # Read after every commit that wrote messages: kept off the session.
        self._next = QuickSelect(
            db,
            select(
                outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers, outbox.c.trace_context
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(batch_size),
        )
        # Marks what `_next` read once the broker acknowledged it, on inline SQLite: one
        # UPDATE ... IN on the quick transaction's own connection. An executemany of an
        # UPDATE per row built, converted and stepped a parameter row for each message.
        self._sent = (
            Bound(
                update(outbox)
                .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
                .values(published_at=bindparam("at")),
                db.writer.dialect,
            )
            if db.inline
            else None
        )
        self._claim = (
            None
            if db.sqlite
            else select(
                outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers, outbox.c.trace_context
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )

    async def backlog(self) -> int:
        """Rows not yet published."""
        outbox = self.tables.outbox
        async with self.db.read() as session:
            found = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            return int(found or 0)

    async def drain_once(self) -> int:
        if self._claim is not None:
            return await self._drain_claimed(self._claim)
        rows = await self._next.all()
        if not rows:
            return 0
        await self._send(rows)
        ids = [r[0] for r in rows]
        if self._sent is not None:
            # A drain's one write, in a transaction of its own: no session is needed for it.
            async with self.db.quick_transaction() as raw:
                raw.execute(*self._sent({"ids": ids, "at": utcnow()}))
        else:
            async with self.db.write() as session, session.begin():
                await session.execute(self._mark(ids))
        return self._drained(ids)

    async def _drain_claimed(self, claim: Select[Any]) -> int:
        async with self.db.write() as session, session.begin():
            rows = [tuple(r) for r in (await session.execute(claim)).all()]
            if not rows:
                return 0
            await self._send(rows)
            ids = [r[0] for r in rows]
            await session.execute(self._mark(ids))
        return self._drained(ids)

    def _mark(self, ids: list[int]) -> Update:
        """The sent rows' mark off inline SQLite (the claimed rows', on PostgreSQL): one
        UPDATE ... IN for them all."""
        outbox = self.tables.outbox
        return update(outbox).where(outbox.c.id.in_(ids)).values(published_at=utcnow())

    def _drained(self, ids: list[int]) -> int:
        self._drains.append((time.monotonic(), max(ids)))
        self.published += len(ids)
        return len(ids)

    async def _send(self, rows: list[tuple[Any, ...]]) -> None:
        tracing = self.tracing if self.tracing is not None and self.tracing.enabled else None
        spans = []
        batch = []
        for _, topic, key, payload, headers, context in rows:
            sent = [(k, v.encode()) for k, v in headers]
            if context is not None:
                # Each message goes out under a publish span of the trace its row was written in.
                span = tracing.start_publish(topic, context, key) if tracing is not None else None
                if span is not None:
                    spans.append(span)
                    sent += span_headers(span, context)
                else:
                    sent += trace_headers(context)
            batch.append((topic, key, payload, sent))
        if self.tamper is not None:
            batch = await self.tamper(batch)
        try:
            await self.producer.send_many(batch)
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
            raise
        finally:
            for span in spans:
                span.end()

    async def republish(self) -> int:
        """Send again every row published within the retention: the broker lost them (it
        came back empty). Returns how many rows will go out again."""
        outbox = self.tables.outbox
        since = utcnow() - timedelta(seconds=self.retention_s)
        async with self.db.write() as session, session.begin():
            result = await session.execute(
                update(outbox)
                .where(outbox.c.published_at.is_not(None), outbox.c.published_at >= since)
                .values(published_at=None)
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        self.republished += count
        self.db.outbox_written.set()
        return count

    async def prune(self) -> int:
        """Delete rows published longer than the retention ago."""
        outbox = self.tables.outbox
        old = outbox.c.published_at < utcnow() - timedelta(seconds=self.retention_s)
        if self._scan_on_prune:
            where = old  # rows a previous run published: found by time, once
            self._scan_on_prune = False
        else:
            cutoff = time.monotonic() - self.retention_s
            upto = None
            while self._drains and self._drains[0][0] < cutoff:
                upto = self._drains.popleft()[1]
            if upto is None:
                return 0
            where = (outbox.c.id <= upto) & old  # a key range: no scan of the whole table
        async with self.db.write() as session, session.begin():
            result = await session.execute(delete(outbox).where(where))
        return int(getattr(result, "rowcount", 0) or 0)

    async def run(self) -> None:
        wake = self.db.outbox_written
        idle_s = self.idle_s
        while True:
            wake.clear()
            try:
                sent = await self.drain_once()
                if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
                    self._pruned_at = time.monotonic()
                    await self.prune()
                self.healthy = True
            except asyncio.CancelledError:
                raise
            except Exception:
                self.healthy = False
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if sent < self.batch_size:
                # Commits came while this drain ran: more are coming, and the next drain
                # lingers for them. A commit after a quiet spell goes out at once: a lone
                # saga step would only wait (5 ms a hop, five hops a transfer).
                busy = wake.is_set()
                # A look that found rows, announced or not, brings the next one soon.
                idle_s = self.idle_s if sent else min(self.idle_max_s, idle_s * 2)
                try:
                    await within(wake.wait(), idle_s)
                except TimeoutError:
                    continue
                if self.linger_s and busy:
                    await asyncio.sleep(self.linger_s)
