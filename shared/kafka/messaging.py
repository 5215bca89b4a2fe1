"""Outbox, inbox and dead-letter tables, and the unit of work that writes them.

A unit of work is one database transaction: the handler's state changes and the
messages it publishes (outbox rows) commit together or not at all. The relay
publishes the outbox afterwards; consumers record applied message ids in the
inbox in the same transaction as their effects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.expression import Executable

from shared import commit_hooks
from shared.audit import AuditTables, append_drafts, audit_tables
from shared.audit import entry as audit_entry
from shared.clock import Clock
from shared.db import Database, UtcDateTime, WriteTransaction
from shared.events.envelope import Envelope, Message, utcnow
from shared.observability import correlation_id_var
from shared.tracing import TRACE_HEADERS, context_of_headers, trace_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessagingTables:
    """The tables every process keeps beside its own: its outbox, inbox and dead letters,
    where its sandbox clock stands, and its audit trail."""

    outbox: Table
    inbox: Table
    dead_letter: Table
    sandbox_clock: Table
    # The process's audit trail (shared/audit.py).
    audit: AuditTables


def messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200)),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        # Set once the broker acknowledged the row; kept for the relay's retention, so a
        # broker that comes back empty gets it again (ADR 0013).
        Column("published_at", UtcDateTime),
        # The W3C trace context the row was written in (`traceparent[;tracestate]`,
        # shared/tracing.py): the relay's publish span continues it, even after a restart.
        Column("trace_context", String(600)),
        # What the relay reads next: only the rows not yet published, in id order.
        Index(
            "ix_outbox_unpublished",
            "id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(64), primary_key=True),
        Column("handled_at", UtcDateTime, nullable=False),
    )
    dead_letter = Table(
        "dead_letter",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("message_id", String(64)),
        Column("key", String(200)),
        Column("payload", LargeBinary, nullable=False),
        Column("error", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("replayed_at", UtcDateTime),
        # The Kafka headers it came with, as [name, text] pairs: a replay re-publishes them,
        # so the message still proves its sender (shared/kafka/signing.py). NULL for dead
        # letters kept before headers were.
        Column("headers", JSON),
    )
    # One row: how far the process's sandbox clock runs ahead of real time, so a process
    # that restarts comes back on the clock it was on (its sagas' deadlines are on it).
    sandbox_clock = Table(
        "sandbox_clock",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("offset_s", Float, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )
    return MessagingTables(outbox, inbox, dead_letter, sandbox_clock, audit_tables(metadata))


_INSERTS: dict[Table, Executable] = {}
_SEEN: dict[Table, Select[Any]] = {}


def _insert(table: Table) -> Executable:
    """One INSERT statement per table, built once (QuickWrite compiles it once)."""
    found = _INSERTS.get(table)
    if found is None:
        found = _INSERTS[table] = insert(table)
    return found


def _seen(inbox: Table) -> Select[Any]:
    """The inbox's look-up of a batch's message ids, built once per table (a quick select)."""
    found = _SEEN.get(inbox)
    if found is None:
        found = _SEEN[inbox] = select(inbox.c.message_id).where(
            inbox.c.consumer == bindparam("consumer"), inbox.c.message_id.in_(bindparam("ids", expanding=True))
        )
    return found


def headers_for(envelope: Envelope, cause: Envelope | None = None) -> list[list[str]]:
    """Kafka headers that let a consumer skip a message without parsing it: its type, and
    for a reply, the service whose message caused it."""
    headers = [["type", envelope.type]]
    if envelope.correlation_id:
        headers.append(["correlation-id", envelope.correlation_id])
    if cause is not None:
        headers.append(["causation-source", cause.source])
    return headers


class UnitOfWork:
    """`async with UnitOfWork(...) as uow:` commits on a clean exit, rolls back on error.

    `uow.after_commit.append(callback)` runs a plain function once the transaction has
    committed (never after a rollback): e.g. to wake in-process listeners of what it wrote.
    Code that holds no `uow` (the saga model's metrics) reaches the same list through
    `shared.commit_hooks.after_commit`, in the task that entered the unit of work."""

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        *,
        source: str,
        causation: Envelope | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        # Envelope times are the process's sandbox time; the outbox and inbox keep real time.
        self.clock = clock
        self.tables = tables
        self.source = source
        self.causation = causation
        # Its session is opened only when something asks for `session` (shared/db.py).
        self.transaction = WriteTransaction(db)
        self._outbox: list[dict[str, Any]] = []
        self._staged: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        self.published: list[Envelope] = []
        self.after_commit: list[Callable[[], None]] = []
        self._audit: list[dict[str, Any]] = []

    @property
    def session(self) -> AsyncSession:
        """The ORM session of this unit of work's transaction, opened on first use."""
        return self.transaction.session

    async def __aenter__(self) -> UnitOfWork:
        self._collecting = commit_hooks.collect(self.after_commit)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.transaction.rollback()
        finally:
            commit_hooks.release(self._collecting)
            await self.transaction.close()

    def publish(
        self,
        message: Message,
        *,
        id: str | None = None,
        causation: Envelope | None = None,
    ) -> Envelope:
        """Queue `message` in the outbox of this transaction."""
        cause = causation or self.causation
        envelope = Envelope.wrap(
            message,
            source=self.source,
            id=id,
            correlation_id=(cause.correlation_id if cause else None) or correlation_id_var.get(),
            causation_id=cause.id if cause else None,
            time=self.clock.now() if self.clock else None,
        )
        # Its headers are its own (headers_for): no trace context to keep, as publish_raw looks for.
        self._queue(message.TOPIC, envelope.subject, envelope.to_bytes(), headers_for(envelope, cause), trace_context())
        self.published.append(envelope)
        return envelope

    def publish_raw(self, topic: str, key: str | None, payload: bytes, headers: list[list[str]]) -> None:
        """Queue a message as it is. One whose headers carry a trace context already (a dead
        letter replayed) keeps it and joins its original trace; any other continues the
        current span's."""
        context = trace_context()
        if any(name in TRACE_HEADERS for name, _ in headers):
            context = context_of_headers(headers) or context
            headers = [[name, value] for name, value in headers if name not in TRACE_HEADERS]
        self._queue(topic, key, payload, headers, context)

    def _queue(
        self, topic: str, key: str | None, payload: bytes, headers: list[list[str]], context: str | None
    ) -> None:
        self._outbox.append(
            {
                "topic": topic,
                "key": key,
                "payload": payload,
                "headers": headers,
                "created_at": None,  # the commit's time, set once for every row (commit)
                "trace_context": context,
            }
        )

    def stage(self, statement: Executable, row: dict[str, Any]) -> None:
        """Queue a row for an INSERT `statement` (build the statement once and reuse it):
        every row staged for it in this unit of work goes in one executemany at commit,
        so a batch of 200 events costs one statement, not 200."""
        self._staged.setdefault(id(statement), (statement, []))[1].append(row)

    def audit(self, **fields: Any) -> None:
        """Queue an audit entry (shared/audit.py `entry`'s fields; the time defaults to the
        sandbox clock's): appended to the process's chain with this transaction's commit."""
        fields.setdefault("at", self.clock.now() if self.clock else utcnow())
        self._audit.append(audit_entry(service=self.source, **fields))

    async def seen(self, consumer: str, message_ids: list[str]) -> set[str]:
        if not message_ids:
            return set()
        rows = await self.db.quick_select(_seen(self.tables.inbox)).within(
            self.transaction, consumer=consumer, ids=message_ids
        )
        return {row[0] for row in rows}

    async def record_handled(self, consumer: str, message_ids: list[str]) -> None:
        """Mark messages applied; written with the rest of the unit of work at commit."""
        now = utcnow()
        statement = _insert(self.tables.inbox)
        for m in message_ids:
            self.stage(statement, {"consumer": consumer, "message_id": m, "handled_at": now})

    async def commit(self) -> None:
        if self._audit:
            drafts, self._audit = self._audit, []
            await append_drafts(self.db, self.transaction, self.tables.audit, drafts)
        staged, self._staged = self._staged, {}
        for statement, rows in staged.values():
            changed = await self.db.quick_write(statement).run(self.transaction, rows)
            if isinstance(statement, Update) and 0 <= changed != len(rows):
                # What the ORM would check: an UPDATE by key that finds no row lost a change.
                raise StaleDataError(f"{statement.table}: {changed} of {len(rows)} rows updated")
        if self._outbox:
            now = utcnow()
            for row in self._outbox:
                row["created_at"] = now
            await self.db.quick_write(_insert(self.tables.outbox)).run(self.transaction, self._outbox)
        await self.transaction.commit()
        if self._outbox:
            self._outbox = []
            self.db.outbox_written.set()
        callbacks, self.after_commit = self.after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the transaction stands; one listener's bug must not undo it
                log.exception("after-commit callback %r failed", callback)
