"""Async database access by URL: SQLite (WAL, one writer) or PostgreSQL.

A service gets a `Database` with two session makers: `write()` for units of work
and `read()` for queries. On SQLite the writer is a single connection that
starts every transaction with BEGIN IMMEDIATE, so concurrent units of work in one
process queue instead of failing with "database is locked"; readers use their own
pooled connections, which WAL lets run beside the writer. On PostgreSQL both
share one pooled engine.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, MetaData, Table, and_, bindparam, event, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import Select, Update
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from shared import sqlite_inline

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend: stored in UTC (an aware datetime in
    another zone is converted), read back aware (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        # In UTC whatever zone it came in: SQLite keeps the wall time and drops the zone,
        # so a Beijing deadline (a day order's, a day's bounds) read back 8 hours late.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def bind_processor(self, dialect: Any) -> Any:
        # On SQLite a value went through three Python calls (the decorator's, the method
        # above, and the dialect's DATETIME, which %-formats a dict of its fields) and came
        # back through three: one function each way that writes and reads the same text
        # (tests/unit/shared/test_sqlite_datetime_text.py), where the column keeps SQLite's
        # default format. A third of the instructions, on every datetime bound or read.
        if _sqlite_default_datetime(self.impl_instance):
            return _utc_text
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if _sqlite_default_datetime(self.impl_instance):
            return _utc_of_text
        return super().result_processor(dialect, coltype)


def _sqlite_default_datetime(impl: Any) -> bool:
    """Whether a UtcDateTime's dialect type is SQLite's DATETIME in its default format."""
    default = sqlite.DATETIME
    return type(impl) is default and impl._storage_format == default._storage_format and impl._reg is None


# Two-digit text of 0..99, and the date part of the days bound lately (by ordinal): the
# fields as SQLite's DATETIME writes them, without the cost of formatting each.
_TWO_DIGITS = [f"{i:02d}" for i in range(100)]
_DAYS: dict[int, str] = {}


def _utc_text(value: datetime | None) -> str | None:
    """UtcDateTime's bind processing on SQLite in one call: what process_bind_param above and
    SQLite's DATETIME make of a value, `YYYY-MM-DD HH:MM:SS.ffffff` of its time in UTC (the
    year in four digits, the microseconds always written, the zone dropped). DATETIME's
    %-format of a dict of the fields, and isoformat, cost three times what this does."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    value = value.astimezone(UTC)
    day = _DAYS.get(value.toordinal())
    if day is None:
        if len(_DAYS) >= 1024:
            _DAYS.clear()
        day = _DAYS[value.toordinal()] = value.date().isoformat()
    two = _TWO_DIGITS
    fraction = str(1_000_000 + value.microsecond)[1:]
    return f"{day} {two[value.hour]}:{two[value.minute]}:{two[value.second]}.{fraction}"


# The text `_utc_text` writes, and nothing else: read as UTC at once (`_utc_of_text`).
_WRITTEN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}").fullmatch


def _utc_of_text(value: str | None) -> datetime | None:
    """UtcDateTime's result processing on SQLite in one call, as SQLite's DATETIME
    (fromisoformat) and process_result_value above read a value. Text in the form
    `_utc_text` writes is parsed as UTC at once: giving the naive datetime its zone
    afterwards cost four times the parse. Any other text is read as it was."""
    if value is None:
        return None
    if type(value) is str and _WRITTEN(value) is not None:
        return datetime.fromisoformat(value + "+00:00")
    found = datetime.fromisoformat(value)
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def table_of(model: type[DeclarativeBase]) -> Table:
    """A mapped class's table, typed as one (for Core statements on the hot paths)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


def naming_metadata() -> MetaData:
    """A service's own metadata, with the naming convention for its constraints. Each
    service declares its base on it: `class Base(DeclarativeBase): metadata = naming_metadata()`."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (outbox headers, stored answers) through orjson rather than the json module.
_JSON: dict[str, Any] = {"json_serializer": _orjson_text, "json_deserializer": orjson.loads}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_engine(url: str, *, writer: bool, echo: bool, pool_size: int, inline: bool) -> AsyncEngine:
    if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
        raise ValueError("in-memory SQLite cannot be shared by the writer and readers; use a file")
    path = url.split("///", 1)[1] if "///" in url else ""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"echo": echo, **_JSON}
    if writer:
        # One connection: concurrent units of work queue for it (async-aware pool).
        kwargs["pool_size"] = 1
        kwargs["max_overflow"] = 0
        kwargs["pool_timeout"] = 60
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
    if inline:
        kwargs["async_creator"] = sqlite_inline.connector(path)
    engine = create_async_engine(url, **kwargs)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE and SAVEPOINT work.
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The writer may wait for another process's writer; readers in WAL mode never wait
        # for a lock, so a reader's busy wait (which would block an inline event loop) is short.
        cursor.execute(f"PRAGMA busy_timeout={10000 if writer else 250}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if writer and inline:
            # A checkpoint copies the WAL into the database file and fsyncs it: on the
            # loop's thread that stalls every request of the process for the fsync. The
            # runtime checkpoints from a worker thread instead (Database.checkpoint).
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if inline:
            # Straight to the sqlite3 connection: through exec_driver_sql, SQLAlchemy's
            # execution context for this one statement was a fifth of a unit of work's cost.
            raw = _sqlite3_of(conn.connection)
            # A session bound to a unit of work's connection joins the transaction the
            # unit of work began on it (WriteTransaction).
            if not raw.in_transaction:
                raw.execute(begin)
        else:
            conn.exec_driver_sql(begin)

    return engine


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        sqlite_inline: bool = True,
        schema: str | None = None,
    ) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        # Inline SQLite: the file QuickSelect reads (through a plain read-only connection,
        # opened on first use), QuickWrite writes and the checkpoint thread copies into.
        self._quick_path = url.split("///", 1)[1] if self.sqlite and sqlite_inline and "///" in url else None
        self.inline = self._quick_path is not None
        self._checkpointed_wal: tuple[int, int] | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._quick: sqlite3.Connection | None = None
        self._quick_writes: dict[int, QuickWrite] = {}
        self._quick_selects: dict[int, QuickSelect] = {}
        if self.sqlite:
            self.writer = _sqlite_engine(url, writer=True, echo=echo, pool_size=pool_size, inline=sqlite_inline)
            self.reader = _sqlite_engine(url, writer=False, echo=echo, pool_size=pool_size, inline=sqlite_inline)
        else:
            self.writer = create_async_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **_JSON
            )
            self.reader = self.writer
            if schema is not None:
                _use_schema(self.writer, schema)
        self._write = async_sessionmaker(self.writer, expire_on_commit=False)
        self._read = async_sessionmaker(self.reader, expire_on_commit=False)
        # Set whenever a unit of work commits outbox rows; the relay waits on it.
        self.outbox_written = asyncio.Event()

    def write(self) -> AsyncSession:
        return self._write()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    async def create_all(self, metadata: MetaData) -> None:
        async with self.writer.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def ping(self) -> bool:
        try:
            async with self.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def checkpoint(self) -> None:
        """Copy the WAL back into the database file, off the event loop's thread (inline
        SQLite turns automatic checkpoints off). PASSIVE: it never waits for, or blocks,
        the writer or the readers; what it cannot copy now the next one will."""
        if self._quick_path is not None:
            # Nothing written since the last one (the WAL file unchanged): nothing to copy,
            # and an idle process skips the thread hop every second.
            wal = _file_state(self._quick_path + "-wal")
            if wal is not None and wal == self._checkpointed_wal:
                return
            if self._checkpointer is None:
                # Kept open: a connection made for each checkpoint read the whole schema
                # again at its first statement, 25 times the CPU of the checkpoint itself.
                self._checkpointer = sqlite3.connect(self._quick_path, isolation_level=None, check_same_thread=False)
            await asyncio.to_thread(_checkpoint, self._checkpointer)
            self._checkpointed_wal = wal

    @asynccontextmanager
    async def quick_transaction(self) -> AsyncIterator[sqlite3.Connection]:
        """A write transaction on inline SQLite's writer connection, without a session:
        the connection is taken from the writer's pool (so it waits for, and excludes,
        every unit of work of the process as a session would), BEGIN IMMEDIATE, and the
        sqlite3 connection is yielded for `QuickWrite.execute`; committed on a clean exit,
        rolled back on an error. A session's begin, connection and commit cost some 50
        times SQLite's own for the few rows a relay marks."""
        if not self.inline:
            raise RuntimeError("a quick transaction needs inline SQLite")
        pooled = await self.writer.raw_connection()
        try:
            raw = _sqlite3_of(pooled)
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield raw
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        finally:
            await greenlet_spawn(pooled.close)

    def quick_write(self, statement: Executable) -> QuickWrite:
        """The `QuickWrite` for a statement built once (module level, or cached)."""
        found = self._quick_writes.get(id(statement))
        if found is None or found.statement is not statement:
            found = self._quick_writes[id(statement)] = QuickWrite(self, statement)
        return found

    def quick_select(self, statement: Select[Any]) -> QuickSelect:
        """The `QuickSelect` for a statement built once (module level, or cached)."""
        found = self._quick_selects.get(id(statement))
        if found is None or found.statement is not statement:
            found = self._quick_selects[id(statement)] = QuickSelect(self, statement)
        return found

    def quick_reader(self) -> sqlite3.Connection | None:
        """The read-only connection behind `PointReader` (inline SQLite only)."""
        if self._quick_path is None:
            return None
        if self._quick is None:
            self._quick = sqlite3.connect(
                f"file:{self._quick_path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            self._quick.execute("PRAGMA busy_timeout=250")
        return self._quick

    async def dispose(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _use_schema(engine: AsyncEngine, schema: str) -> None:
    if not schema.isidentifier():
        raise ValueError(f"not a schema name: {schema!r}")

    @event.listens_for(engine.sync_engine, "connect", insert=True)
    def _search_path(dbapi_connection: Any, _record: Any) -> None:
        # On the raw asyncpg connection (autocommit): a SET inside the adapter's implicit
        # transaction would be undone by the pool's first rollback.
        dbapi_connection.run_async(lambda conn: conn.execute(f"SET search_path TO {schema}"))


def _file_state(path: str) -> tuple[int, int] | None:
    """A file's size and modification time, None if it is not there."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def _checkpoint(connection: sqlite3.Connection) -> None:
    """A PASSIVE checkpoint on the connection kept for them (run on a worker thread)."""
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _sqlite3_of(pooled: Any) -> sqlite3.Connection:
    """The sqlite3 connection inside a pooled inline-SQLite connection
    (shared/sqlite_inline.py's adapter keeps it as `_conn`)."""
    return pooled.driver_connection._conn


class WriteTransaction:
    """A unit of work's write transaction, with the ORM session opened only when something
    asks for one (`session`).

    On inline SQLite the quick writes and selects that make up a consumer batch or a group
    of new payments run on the writer's sqlite3 connection itself (`connection`): taken
    from the writer's pool at the first one (so it waits for, and excludes, every other
    unit of work of the process, as a session's would), begun with BEGIN IMMEDIATE as the
    writer's sessions begin, committed or rolled back once. A session asked for afterwards
    is bound to that same connection and transaction, so what it writes commits or rolls
    back with the rest; one asked for first owns the connection as before, and the quick
    writes use its. A session's begin, connection and commit cost about 200 us of CPU a
    transaction. Elsewhere (PostgreSQL) every statement goes through the session."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._session: AsyncSession | None = None
        # Inline SQLite, begun without a session: the writer's pooled connection, its
        # sqlite3 connection, and the engine connection a later session is bound to.
        self._pooled: Any = None
        self._raw: sqlite3.Connection | None = None
        self._bound: AsyncConnection | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            if self._pooled is None:
                self._session = self.db.write()
            else:
                # Its begin finds the transaction open and joins it (the writer's begin listener).
                self._bound = AsyncConnection(self.db.writer, Connection(self.db.writer.sync_engine, self._pooled))
                self._session = self.db._write(bind=self._bound)
                self._session.info["raw_sqlite"] = self._raw
        return self._session

    @property
    def pending(self) -> AsyncSession | None:
        """The session, if one was opened and holds changes not yet flushed."""
        session = self._session
        return session if session is not None and (session.new or session.dirty or session.deleted) else None

    async def connection(self) -> sqlite3.Connection:
        """The sqlite3 connection of the transaction, begun if it was not (inline SQLite)."""
        if self._raw is not None:
            return self._raw
        if self._session is not None:
            self._raw = await _raw_sqlite(self._session)
            return self._raw
        pooled = await self.db.writer.raw_connection()
        try:
            raw = _sqlite3_of(pooled)
            raw.execute("BEGIN IMMEDIATE")
        except BaseException:
            await greenlet_spawn(pooled.close)
            raise
        self._pooled, self._raw = pooled, raw
        return raw

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()
        if self._pooled is not None and self._raw is not None and self._raw.in_transaction:
            self._raw.commit()  # begun here, and no session statement ran to commit it

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
        if self._pooled is not None and self._raw is not None and self._raw.in_transaction:
            self._raw.rollback()

    async def close(self) -> None:
        """End the session and give the connection back to the writer's pool."""
        try:
            if self._session is not None:
                await self._session.close()
        finally:
            if self._pooled is not None and self._raw is not None and self._raw.in_transaction:
                self._raw.rollback()  # a commit that failed part way: none of it stands
            if self._bound is not None:
                await self._bound.close()
            elif self._pooled is not None:
                await greenlet_spawn(self._pooled.close)
            self._pooled = self._bound = self._raw = None


# Where the quick statements run: a unit of work's transaction, or a session's.
Transactional = AsyncSession | WriteTransaction


def session_of(tx: Transactional) -> AsyncSession:
    return tx.session if isinstance(tx, WriteTransaction) else tx


async def _raw_sqlite(tx: Transactional) -> sqlite3.Connection:
    """The sqlite3 connection under a transaction (inline SQLite)."""
    if isinstance(tx, WriteTransaction):
        return await tx.connection()
    session = tx
    raw = session.info.get("raw_sqlite")
    if raw is None:
        connection = await session.connection()
        pooled = await connection.get_raw_connection()
        raw = session.info["raw_sqlite"] = _sqlite3_of(pooled)
    return raw


class QuickWrite:
    """An INSERT, UPDATE or DELETE for many rows inside a unit of work's transaction,
    skipping SQLAlchemy's per-statement machinery on inline SQLite.

    The statement is compiled once per set of row keys; each value goes through its
    column's own bind processing (datetimes, JSON), exactly as `session.execute` would
    send it, and the rows go to sqlite3's `executemany` on the transaction's own
    connection. Elsewhere it is `session.execute(statement, rows)`. A constraint
    violation is raised as SQLAlchemy's IntegrityError either way."""

    def __init__(self, db: Database, statement: Executable) -> None:
        self.db = db
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def _compile(self, keys: tuple[str, ...]) -> _Compiled:
        dialect = self.db.writer.dialect
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        names = list(compiled.positiontup or [])
        processors = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        found = self._compiled[keys] = _Compiled(compiled.string, names, processors)
        return found

    async def run(self, tx: Transactional, rows: list[dict[str, Any]]) -> int:
        """Execute for `rows`; how many rows it changed, or -1 where the driver can't say."""
        if not rows:
            return 0
        if not self.db.inline:
            result = await session_of(tx).execute(self.statement, rows)
            sane = len(rows) == 1 or self.db.writer.dialect.supports_sane_multi_rowcount
            return int(result.rowcount) if sane else -1  # type: ignore[attr-defined]
        session = tx.pending if isinstance(tx, WriteTransaction) else tx
        if session is not None and (session.new or session.dirty or session.deleted):
            await session.flush()  # what the ORM holds goes first, as session.execute would
        return self.execute(await _raw_sqlite(tx), rows)

    def execute(self, raw: sqlite3.Connection, rows: list[dict[str, Any]]) -> int:
        """`run` on inline SQLite's own connection, in the transaction it has open
        (`Database.quick_transaction`, or a unit of work's)."""
        if not rows:
            return 0
        compiled = self._compiled.get(tuple(rows[0])) or self._compile(tuple(rows[0]))
        try:
            return raw.executemany(compiled.sql, compiled.params(rows)).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(compiled.sql, None, exc) from exc


_UNSEEN = object()


class _Compiled:
    """A QuickWrite's SQL for one set of row keys, and how a row becomes its parameters:
    the values taken in one C call, and only the columns whose type converts them
    (datetimes, JSON, bytes) converted. Rows of one batch often share a value (the
    unit of work's time on every outbox row, a relay's mark on every row it sent): a
    value is converted once for as long as the next row holds the same object."""

    def __init__(self, sql: str, names: list[str], processors: list[Any]) -> None:
        self.sql = sql
        self._get = itemgetter(*names) if len(names) != 1 else (lambda row: (row[names[0]],))
        self._convert = [(i, p) for i, p in enumerate(processors) if p is not None]

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        get, convert = self._get, self._convert
        if not convert:
            return [get(row) for row in rows]
        last: list[Any] = [_UNSEEN] * len(convert)
        done: list[Any] = [None] * len(convert)
        params = []
        for row in rows:
            values = list(get(row))
            for j, (i, process) in enumerate(convert):
                value = values[i]
                if value is not last[j]:
                    last[j], done[j] = value, process(value)
                values[i] = done[j]
            params.append(values)
        return params


class Bound:
    """A Core statement compiled once for inline SQLite, and its named values turned into
    sqlite3's parameters: each through its type's bind processing, as a session would send
    it; an IN of a list (`bindparam("ids", expanding=True)`) given the list, with a
    placeholder per value made for each length the list comes in. `bound(params)` is the
    (SQL, parameters) pair for `connection.execute`."""

    def __init__(self, statement: Select[Any] | Update, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self._sql = compiled.string
        self._order = list(compiled.positiontup or [])
        self._defaults = dict(compiled.params)
        self._process = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._order
        ]
        self._expanding = [compiled.binds[name].expanding for name in self._order]
        self._expands = any(self._expanding)
        self._sql_for: dict[tuple[int, ...], str] = {}
        # Without an expanding list: the statement's own values (its constants) converted
        # once, here, and each named value given converted once, into every position that
        # names it. Converting all forty values of an AML prefilter query on each call cost
        # three times this.
        self._constants = [
            p(self._defaults[name]) if p is not None and not compiled.binds[name].required else self._defaults[name]
            for name, p in zip(self._order, self._process, strict=True)
            if not self._expands
        ]
        positions: dict[str, list[int]] = {}
        for i, name in enumerate(self._order):
            positions.setdefault(name, []).append(i)
        self._positions = {name: (tuple(found), self._process[found[0]]) for name, found in positions.items()}

    def __call__(self, params: dict[str, Any]) -> tuple[str, list[Any]]:
        if self._expands:
            return self._expanded({**self._defaults, **params})
        ordered = self._constants.copy()
        for name, value in params.items():
            named = self._positions.get(name)
            if named is not None:
                found, process = named
                converted = process(value) if process is not None else value
                for i in found:
                    ordered[i] = converted
        return self._sql, ordered

    def _expanded(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        ordered: list[Any] = []
        lengths = []
        for name, p, expanding in zip(self._order, self._process, self._expanding, strict=True):
            if expanding:
                items = list(values[name])
                lengths.append(len(items))
                ordered += items if p is None else [p(v) for v in items]
            else:
                ordered.append(p(values[name]) if p is not None else values[name])
        key = tuple(lengths)
        sql = self._sql_for.get(key)
        if sql is None:
            sql = self._sql
            expanded = (name for name, expanding in zip(self._order, self._expanding, strict=True) if expanding)
            for name, length in zip(expanded, lengths, strict=True):
                # SQLite takes an empty list: `x IN ()` is false.
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * length))
            if len(self._sql_for) < 64:
                self._sql_for[key] = sql
        return sql, ordered


class QuickSelect:
    """A hot Core select that skips the session and, on SQLite, the connection pool.

    A session, a pool checkout and an ORM load cost about 350 us per look-up here, and
    an indexed look-up itself a few. On inline SQLite the statement, compiled once, runs
    through a plain read-only sqlite3 connection on the loop's thread (WAL: it never waits
    for the writer); elsewhere it runs on a pooled connection. Values go in and come
    back converted by their types (datetimes in UTC), as a session would send and return
    them. Bind parameters are named (`bindparam("x")`) and given as keywords; an IN of
    a list is one named `bindparam("x", expanding=True)`, given the list."""

    def __init__(self, db: Database, statement: Select[Any]) -> None:
        self.db = db
        self.statement = statement
        dialect = db.reader.dialect
        self._bound = Bound(statement, dialect)
        # The columns whose values come back converted (datetimes, JSON), by position.
        self._convert = [
            (i, f)
            for i, c in enumerate(statement.selected_columns)
            if (f := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]

    async def all(self, **params: Any) -> list[tuple[Any, ...]]:
        quick = self.db.quick_reader()
        if quick is None:
            async with self.db.reader.connect() as conn:
                return [tuple(row) for row in (await conn.execute(self.statement, params)).all()]
        return self._run(quick, params)

    async def within(self, tx: Transactional, **params: Any) -> list[tuple[Any, ...]]:
        """`all` inside a unit of work's transaction, seeing what it wrote (and, on
        PostgreSQL, taking the statement's row locks): on inline SQLite on the transaction's
        own connection, elsewhere through the session."""
        if not self.db.inline:
            return [tuple(row) for row in (await session_of(tx).execute(self.statement, params)).all()]
        return self._run(await _raw_sqlite(tx), params)

    def _run(self, connection: sqlite3.Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self._converted(connection.execute(*self._bound(params)).fetchall())

    def _converted(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        convert = self._convert
        if not convert:
            return rows
        found = []
        for row in rows:
            values = list(row)
            for i, f in convert:
                if values[i] is not None:
                    values[i] = f(values[i])
            found.append(tuple(values))
        return found


class PointReader:
    """One row by its key, as a dict of the named columns, through `QuickSelect`."""

    def __init__(self, db: Database, table: Table, columns: Sequence[str], key: Sequence[str]) -> None:
        self.names = list(columns)
        self._query = QuickSelect(
            db,
            select(*(table.c[name] for name in columns)).where(
                and_(*(table.c[name] == bindparam(f"k{i}") for i, name in enumerate(key)))
            ),
        )

    async def get(self, *key: Any) -> dict[str, Any] | None:
        rows = await self._query.all(**{f"k{i}": value for i, value in enumerate(key)})
        return dict(zip(self.names, rows[0], strict=True)) if rows else None
