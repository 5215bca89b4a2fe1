"""A PostgreSQL schema per service under test: the test role may not create databases,
so each service's tables live in their own schema of the one test database."""

from __future__ import annotations

from sqlalchemy import text

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
