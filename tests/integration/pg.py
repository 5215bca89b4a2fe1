"""A PostgreSQL schema per service under test: the test role may not create databases,
so each service's tables live in their own schema of the one test database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from shared.db import Database


async def fresh_schema(url: str, schema: str) -> None:
    db = Database(url)
    try:
        async with db.writer.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        await db.dispose()


async def drop_schema(url: str, schema: str) -> None:
    db = Database(url)
    try:
        async with db.writer.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        await db.dispose()


def use_schema(db: Database, schema: str) -> None:
    """Every connection of `db` works in `schema`."""

    @event.listens_for(db.writer.sync_engine, "connect", insert=True)
    def _search_path(dbapi_connection: Any, _record: Any) -> None:
        # On the raw asyncpg connection (autocommit): a SET inside the adapter's implicit
        # transaction would be undone by the pool's first rollback.
        dbapi_connection.run_async(lambda conn: conn.execute(f"SET search_path TO {schema}"))
