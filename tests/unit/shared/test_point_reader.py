"""PointReader: a hot key look-up without the ORM, returning what a session would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, LargeBinary, MetaData, String, Table

from shared.db import Database, PointReader, UtcDateTime

metadata = MetaData()
answers = Table(
    "answer",
    metadata,
    Column("owner_id", String(36), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("status_code", Integer),
    Column("body", LargeBinary),
    Column("headers", JSON),
    Column("created_at", UtcDateTime),
)
WHEN = datetime(2026, 11, 25, 15, 30, 1, 123456, tzinfo=UTC)


@pytest.mark.parametrize("inline", [True, False], ids=["inline-sqlite", "aiosqlite"])
async def test_reads_one_row_by_key_with_column_types_applied(tmp_path: Path, inline: bool) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", sqlite_inline=inline)
    try:
        await db.create_all(metadata)
        async with db.write() as session, session.begin():
            await session.execute(
                answers.insert(),
                [
                    {
                        "owner_id": "c-1",
                        "key": "k-1",
                        "status_code": 202,
                        "body": b'{"id":"p-1"}',
                        "headers": {"location": "/v1/payments/p-1"},
                        "created_at": WHEN,
                    }
                ],
            )
        reader = PointReader(db, answers, ["status_code", "body", "headers", "created_at"], ["owner_id", "key"])

        found = await reader.get("c-1", "k-1")

        assert found == {
            "status_code": 202,
            "body": b'{"id":"p-1"}',
            "headers": {"location": "/v1/payments/p-1"},
            "created_at": WHEN,
        }
        assert found["created_at"].tzinfo is not None
        assert await reader.get("c-1", "k-2") is None
        assert await reader.get("c-2", "k-1") is None
        assert (db.quick_reader() is not None) is inline
    finally:
        await db.dispose()


async def test_sees_what_the_writer_commits_after_it_first_read(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        await db.create_all(metadata)
        reader = PointReader(db, answers, ["status_code"], ["owner_id", "key"])
        assert await reader.get("c-1", "k-1") is None
        async with db.write() as session, session.begin():
            await session.execute(answers.insert(), [{"owner_id": "c-1", "key": "k-1", "status_code": 409}])

        assert await reader.get("c-1", "k-1") == {"status_code": 409}
    finally:
        await db.dispose()
