"""The audit trail every process keeps (docs/adr/0017-audit-trail-and-freezes.md).

`record` appends one row to the process's `audit_log` in the caller's transaction, so the
row commits with the change it describes or not at all. Rows form a hash chain: each
carries the hash of the one before (`prev_hash`) and its own, `sha256(prev_hash +
canonical JSON of the row)`. `audit_head` (one row) holds the last sequence number and
hash; `record` locks it for the rest of the transaction (`SELECT ... FOR UPDATE` on
PostgreSQL, where several replicas may write; SQLite has one writer per process), so
appends are serialised and the chain has no forks. `check_chain` walks the rows and
names the first that does not fit: a changed row breaks its own hash, a deleted one
breaks its successor's `prev_hash` (or, for the last row, the head).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Insert,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from shared.db import Database, Transactional, UtcDateTime, session_of
from shared.observability import correlation_id_var, request_id_var

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# The fields a row's hash covers, in the order they are written out.
HASHED = (
    "seq",
    "at",
    "service",
    "actor",
    "action",
    "subject_kind",
    "subject_id",
    "customer_id",
    "account_id",
    "before",
    "after",
    "request_id",
    "correlation_id",
)


@dataclass(frozen=True)
class AuditTables:
    log: Table
    head: Table
    # An append's statements, built once so a unit of work runs them as quick ones.
    head_row: Select[Any] = field(init=False)
    add_rows: Insert = field(init=False)
    move_head: Update = field(init=False)

    def __post_init__(self) -> None:
        head = self.head
        object.__setattr__(self, "head_row", select(head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update())
        moved = head.update().where(head.c.id == bindparam("b_id"))
        moved = moved.values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
        object.__setattr__(self, "add_rows", self.log.insert())
        object.__setattr__(self, "move_head", moved)


def audit_tables(metadata: MetaData) -> AuditTables:
    log = Table(
        "audit_log",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
        Column("at", UtcDateTime, nullable=False),
        Column("service", String(20), nullable=False),
        Column("actor", String(100), nullable=False),
        Column("action", String(200), nullable=False),
        Column("subject_kind", String(50)),
        Column("subject_id", String(100)),
        Column("customer_id", String(36)),
        Column("account_id", String(64)),
        Column("before", JSON),
        Column("after", JSON),
        Column("request_id", String(128)),
        Column("correlation_id", String(128)),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_customer_id", "customer_id"),
        Index("ix_audit_log_account_id", "account_id"),
    )
    head = Table(
        "audit_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
    )
    return AuditTables(log, head)


AUDIT_ENTRY_EXAMPLE: dict[str, Any] = {
    "seq": 42,
    "at": "2025-06-02T09:31:12.123456Z",
    "service": "accounts",
    "actor": "operator:5a0e1d3c-0000-4000-8000-000000000900",
    "action": "account.frozen",
    "subject_kind": "account",
    "subject_id": "5a0e1d3c-0000-4000-8000-000000000101",
    "customer_id": "5a0e1d3c-0000-4000-8000-000000000001",
    "account_id": "5a0e1d3c-0000-4000-8000-000000000101",
    "before": None,
    "after": {"mode": "outflows", "reason": "court order 2025-17"},
    "request_id": "b1c2d3e4f5a6",
    "correlation_id": "b1c2d3e4f5a6",
    "prev_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "hash": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
}


class AuditEntry(BaseModel):
    """One row of a process's audit trail."""

    model_config = ConfigDict(json_schema_extra={"examples": [AUDIT_ENTRY_EXAMPLE]})

    seq: int = Field(description="Position in this process's chain, from 1")
    at: datetime = Field(description="When, on the sandbox clock")
    service: str = Field(description="The process that recorded it: gateway, accounts, payments, ...")
    actor: str = Field(description="`customer:<id>`, `operator:<id>`, `adjuster:<id>` or `system:<service>`")
    action: str = Field(description="What was done: `POST /v1/transfers`, `account.frozen`, `saga.started`, ...")
    subject_kind: str | None = None
    subject_id: str | None = None
    customer_id: str | None = None
    account_id: str | None = None
    before: Any = Field(default=None, description="The state before, where it applies")
    after: Any = Field(default=None, description="The state after, where it applies")
    request_id: str | None = None
    correlation_id: str | None = None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    service: str
    items: list[AuditEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` for the entries after these; null at the end")


class BrokenRow(BaseModel):
    seq: int | None = Field(description="The first row that does not fit the chain (null: the head itself)")
    reason: str


class ChainCheck(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"service": "accounts", "ok": True, "rows_checked": 42, "broken": None}]}
    )

    service: str
    ok: bool
    rows_checked: int
    broken: BrokenRow | None = None


def canonical(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same bytes for the same row, always."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z, default=str)


def _json_safe(value: Any) -> Any:
    """`value` as the JSON column gives it back (decimals and datetimes as text), so what
    was hashed is what is read."""
    return None if value is None else orjson.loads(canonical(value))


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash of a row with these `fields` (HASHED) after the row whose hash is `prev_hash`."""
    row = {name: fields.get(name) for name in HASHED}
    at = row["at"]
    if isinstance(at, datetime):
        row["at"] = at.astimezone(UTC).isoformat()
    return hashlib.sha256(prev_hash.encode() + canonical(row)).hexdigest()


async def record(
    session: AsyncSession,
    tables: AuditTables,
    *,
    at: datetime,
    service: str,
    actor: str,
    action: str,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    customer_id: str | None = None,
    account_id: str | None = None,
    before: Any = None,
    after: Any = None,
    request_id: str | None = None,
    correlation_id: str | None = None,
) -> AuditEntry:
    """Append a row to the chain in the caller's transaction. The request and correlation
    ids default to those of the request or message being handled."""
    draft = entry(
        at=at,
        service=service,
        actor=actor,
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        customer_id=customer_id,
        account_id=account_id,
        before=before,
        after=after,
        request_id=request_id,
        correlation_id=correlation_id,
    )
    return (await record_many(session, tables, [draft]))[0]


def entry(
    *,
    at: datetime,
    service: str,
    actor: str,
    action: str,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    customer_id: str | None = None,
    account_id: str | None = None,
    before: Any = None,
    after: Any = None,
    request_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A row's fields before it has a place in the chain; the ids default to those in force."""
    return {
        "at": at.astimezone(UTC),
        "service": service,
        "actor": actor[:100],
        "action": action[:200],
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "customer_id": customer_id,
        "account_id": account_id,
        "before": _json_safe(before),
        "after": _json_safe(after),
        "request_id": request_id if request_id is not None else request_id_var.get(),
        "correlation_id": correlation_id if correlation_id is not None else correlation_id_var.get(),
    }


async def record_many(session: AsyncSession, tables: AuditTables, drafts: Sequence[dict[str, Any]]) -> list[AuditEntry]:
    """Append `drafts` (made by `entry`) to the chain in order, under one lock of its head."""
    return [AuditEntry.model_validate(r) for r in await _append(session, tables, drafts)]


async def append_drafts(db: Database, tx: Transactional, tables: AuditTables, drafts: Sequence[dict[str, Any]]) -> None:
    """`record_many` for a unit of work's commit, which needs no entries back: the rows go
    in as quick writes (shared/db.py) in its transaction, with the same chain; no session
    is opened for them unless the chain has no head row yet."""
    await _append(tx, tables, drafts, db)


async def _append(
    tx: Transactional, tables: AuditTables, drafts: Sequence[dict[str, Any]], db: Database | None = None
) -> list[dict[str, Any]]:
    """The rows `record_many` appends, as written; given the `db`, through its quick writes."""
    if not drafts:
        return []
    seq, prev_hash = await _lock_head(tx, tables, db)
    rows = []
    for draft in drafts:
        seq += 1
        fields = {**draft, "seq": seq}
        digest = entry_hash(prev_hash, fields)
        rows.append({**fields, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    if db is None:
        session = session_of(tx)
        await session.execute(tables.add_rows, rows)
        await session.execute(tables.move_head, {"b_id": 1, "b_seq": seq, "b_hash": prev_hash})
    else:
        await db.quick_write(tables.add_rows).run(tx, rows)
        await db.quick_write(tables.move_head).run(tx, [{"b_id": 1, "b_seq": seq, "b_hash": prev_hash}])
    return rows


class AuditWriter:
    """Appends entries that need not share a transaction with a change (the gateway's one
    per request) many to a transaction. `add` queues a draft made by `entry` (so it keeps
    the ids of the request that made it); `run`, a background loop, lingers a moment after
    the first and appends everything queued, in the order added, under one lock of the
    head. `flush` appends what is queued now: before the trail is read (a reader sees what
    was answered), and at shutdown (nothing queued is lost by a clean stop)."""

    def __init__(self, db: Database, tables: AuditTables, *, linger_s: float = 0.05, retry_s: float = 0.5) -> None:
        self.db = db
        self.tables = tables
        self.linger_s = linger_s
        self.retry_s = retry_s
        self._queued: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        # One append at a time, so batches join the chain in the order they were queued.
        self._writing = asyncio.Lock()

    def add(self, draft: dict[str, Any]) -> None:
        self._queued.append(draft)
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queued)

    def forget(self) -> None:
        """Drop what is queued (a sandbox reset emptied the trail it was meant for)."""
        self._queued.clear()

    async def flush(self) -> None:
        async with self._writing:
            batch, self._queued = self._queued, []
            if not batch:
                return
            committed = False
            try:
                async with self.db.write() as session:
                    async with session.begin():
                        await _append(session, self.tables, batch, self.db)
                    committed = True  # a cancellation while the session closes must not append it twice
            except BaseException:
                if not committed:
                    self._queued = batch + self._queued  # appended by the next try, in order
                raise

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.linger_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("could not append %d audit entries; retrying", len(self._queued))
                await asyncio.sleep(self.retry_s)
                self._wake.set()


async def _lock_head(tx: Transactional, tables: AuditTables, db: Database | None = None) -> tuple[int, str]:
    """The chain's last sequence number and hash, locked until the transaction ends. The
    first append creates the head row (a concurrent first append waits on it)."""
    head, locked = tables.head, tables.head_row
    if db is not None:
        found = await db.quick_select(locked).within(tx)
        if found:
            return int(found[0][0]), str(found[0][1])
    session = session_of(tx)
    row = (await session.execute(locked)).first()
    if row is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert(head).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["id"])
        )
        row = (await session.execute(locked)).one()
    return int(row.seq), str(row.hash)


class ChainWalk:
    """`check_chain` a page of rows at a time: `feed` each page in order, then `finish`."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.prev_seq, self.prev_hash, self.checked = 0, GENESIS, 0
        self.broken: ChainCheck | None = None

    def _break(self, seq: int | None, reason: str) -> None:
        self.broken = ChainCheck(
            service=self.service, ok=False, rows_checked=self.checked, broken=BrokenRow(seq=seq, reason=reason)
        )

    def feed(self, rows: Iterable[Any]) -> bool:
        """Check `rows`; False once a row does not fit (the rest need not be read)."""
        for row in rows:
            if self.broken is not None:
                return False
            self.checked += 1
            seq = int(row["seq"])
            if seq != self.prev_seq + 1:
                self._break(seq, f"row {self.prev_seq + 1} is missing before row {seq}")
            elif row["prev_hash"] != self.prev_hash:
                self._break(seq, "prev_hash does not match the previous row's hash")
            elif entry_hash(self.prev_hash, dict(row)) != row["hash"]:
                self._break(seq, "the row's content does not match its hash")
            else:
                self.prev_seq, self.prev_hash = seq, row["hash"]
        return self.broken is None

    def finish(self, head: tuple[int, str] | None) -> ChainCheck:
        if self.broken is not None:
            return self.broken
        last_seq, last_hash = head or (0, GENESIS)
        if (self.prev_seq, self.prev_hash) != (last_seq, last_hash):
            self._break(None, f"the chain's head is row {last_seq}, the last row found is {self.prev_seq}")
            assert self.broken is not None
            return self.broken
        return ChainCheck(service=self.service, ok=True, rows_checked=self.checked)


def check_chain(service: str, rows: Iterable[Any], head: tuple[int, str] | None) -> ChainCheck:
    """Walk `rows` (mappings with HASHED, `prev_hash` and `hash`, by seq) against the
    chain's `head` (last seq and hash, None if nothing was ever appended)."""
    walk = ChainWalk(service)
    walk.feed(rows)
    return walk.finish(head)


async def verify(session: AsyncSession, tables: AuditTables, service: str, *, batch: int = 1000) -> ChainCheck:
    """Check the whole chain up to its head as read first, `batch` rows at a time: rows
    appended meanwhile are left for the next check."""
    head = (await session.execute(select(tables.head.c.seq, tables.head.c.hash))).first()
    last = int(head.seq) if head else 0
    walk, after = ChainWalk(service), 0
    while True:
        page = (
            await session.execute(
                select(tables.log)
                .where(tables.log.c.seq > after, tables.log.c.seq <= last)
                .order_by(tables.log.c.seq)
                .limit(batch)
            )
        ).mappings()
        rows = [dict(r) for r in page]
        if not walk.feed(rows) or len(rows) < batch:
            break
        after = rows[-1]["seq"]
    return walk.finish((int(head.seq), str(head.hash)) if head else None)


@dataclass(frozen=True)
class Cursor:
    """Where a page of the merged trail ended: entries are ordered by (at, service, seq)."""

    at: datetime
    service: str
    seq: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.service}|{self.seq}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError for anything `encode` did not make."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, service, seq = raw.split("|")
            when = datetime.fromisoformat(at)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError("not a cursor of this trail") from err
        if when.tzinfo is None or not seq.isdigit():
            raise ValueError("not a cursor of this trail")
        return cls(when, service, int(seq))

    @classmethod
    def of(cls, entry: AuditEntry) -> Cursor:
        return cls(entry.at, entry.service, entry.seq)


@dataclass(frozen=True)
class AuditFilter:
    customer_id: str | None = None
    account_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: Cursor | None = None


def _conditions(log: Table, service: str, f: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for column, value in (
        (log.c.customer_id, f.customer_id),
        (log.c.account_id, f.account_id),
        (log.c.actor, f.actor),
        (log.c.action, f.action),
    ):
        if value is not None:
            found.append(column == value)
    if f.since is not None:
        found.append(log.c.at >= f.since)
    if f.until is not None:
        found.append(log.c.at < f.until)
    if (c := f.after) is not None:
        # After (c.at, c.service, c.seq) in the merged order, for this process's rows.
        if service > c.service:
            found.append(log.c.at >= c.at)
        elif service < c.service:
            found.append(log.c.at > c.at)
        else:
            found.append(or_(log.c.at > c.at, and_(log.c.at == c.at, log.c.seq > c.seq)))
    return found


async def query(
    session: AsyncSession, tables: AuditTables, service: str, f: AuditFilter, *, limit: int
) -> list[AuditEntry]:
    """This process's entries that match `f`, oldest first, at most `limit`."""
    log = tables.log
    statement = select(log).where(*_conditions(log, service, f)).order_by(log.c.at, log.c.seq).limit(limit)
    return [AuditEntry.model_validate(dict(r)) for r in (await session.execute(statement)).mappings()]


def merge(pages: Sequence[Sequence[AuditEntry]], limit: int) -> tuple[list[AuditEntry], Cursor | None]:
    """The first `limit` entries of several processes' pages in (at, service, seq) order,
    and the cursor after them if any page may hold more."""
    entries = sorted((e for page in pages for e in page), key=lambda e: (e.at, e.service, e.seq))
    kept = entries[:limit]
    more = len(entries) > limit or any(len(page) >= limit for page in pages)
    return kept, (Cursor.of(kept[-1]) if more and kept else None)


# The role an actor is named by: the first of these a principal has (an operator who is
# also a compliance officer acts as an operator).
ACTOR_ROLES = ("customer", "adjuster", "operator", "compliance")


def actor_of(principal: Any) -> str:
    """`<role>:<id>` for a person (`customer:`, `adjuster:`, `operator:`, ...); a
    service's token already reads `service:<name>`."""
    subject = str(principal.subject)
    if subject.startswith("service:"):
        return subject
    role = next((r for r in ACTOR_ROLES if principal.has(r)), "user")
    return f"{role}:{subject}"
