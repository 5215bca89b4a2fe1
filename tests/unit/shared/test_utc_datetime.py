"""A datetime in another zone is stored as the instant it is: SQLite keeps a wall time
and no zone, so a Beijing day order's deadline used to read back 8 hours late, and a day
order placed between midnight and 08:00 Beijing time did not expire the next day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from shared.db import Database, UtcDateTime

metadata = MetaData()
moments = Table("moments", metadata, Column("id", Integer, primary_key=True), Column("at", UtcDateTime))
BEIJING = ZoneInfo("Asia/Shanghai")


async def test_a_beijing_datetime_reads_back_as_the_same_instant_and_compares_as_one(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await db.create_all(metadata)
        deadline = datetime(2026, 12, 2, 0, 0, tzinfo=BEIJING)  # the end of bank day 1 December
        async with db.write() as session, session.begin():
            await session.execute(insert(moments).values(id=1, at=deadline))
        async with db.read() as session:
            stored = await session.scalar(select(moments.c.at))
            # 00:31 Beijing on 1 December, a day later: past the deadline by 16 h 31 min.
            now = datetime(2026, 11, 30, 16, 31, tzinfo=UTC) + timedelta(days=1)
            overdue = await session.scalar(select(moments.c.id).where(moments.c.at < now))
        assert stored == deadline and stored is not None and stored.tzinfo is not None
        assert stored.utcoffset() == timedelta(0)
        assert overdue == 1
    finally:
        await db.dispose()
