"""SQLite for SQLAlchemy's async engine, run on the event loop's own thread.

aiosqlite gives every connection a thread and hops to it for each statement: a
queue put, a thread wake-up and a future resolved back on the loop. For the small,
indexed statements a service runs (microseconds inside SQLite on a WAL file) that hop
costs several times the statement itself, and it was the largest single item in every
service's profile under load. This module offers the same awaitable interface as
aiosqlite, which SQLAlchemy's `sqlite+aiosqlite` dialect adapts, but executes each
call at once on the calling thread.

Why blocking the loop is safe here: each service owns its database file, and in one
process only the single writer connection ever takes the write lock (readers run in
WAL mode and never wait for it), so no statement waits on a lock another coroutine
holds. The price is that a long query (a ledger check over the whole journal) holds
the loop for its duration, as any CPU-bound work would. `DB_SQLITE_INLINE=false`
goes back to aiosqlite's threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    """An aiosqlite-shaped cursor whose coroutines finish without suspending."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _ImmediateQueue:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's adapter uses to set
    `isolation_level`: the function runs at once and its future is resolved."""

    __slots__ = ()

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """An aiosqlite-shaped connection over a plain sqlite3 connection."""

    def __init__(self, path: str) -> None:
        # Autocommit mode: the engine issues BEGIN (IMMEDIATE) itself.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection: sqlite3.Connection | None = self._conn  # SQLAlchemy checks it to tell an open connection
        self._tx = _ImmediateQueue()

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate); closing twice is harmless."""
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction


def connector(path: str) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine` that opens `path` inline."""

    async def connect() -> InlineConnection:
        return InlineConnection(path)

    return connect
