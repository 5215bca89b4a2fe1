"""A PostgreSQL schema per service under test: the test role may not create databases,
so each service's tables live in their own schema of the one test database, and under
pytest-xdist (`make test`) each worker's in schemas of its own."""

from __future__ import annotations

import os

from sqlalchemy import text

from shared.db import Database


def of_this_worker(schema: str) -> str:
    """`schema` for this pytest-xdist worker (`payments_tests_gw1`), or as named outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{schema}_{worker}" if worker else schema


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
