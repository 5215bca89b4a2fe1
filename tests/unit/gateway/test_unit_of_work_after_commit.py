"""`uow.after_commit`: callbacks run once the transaction has committed, never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from shared.db import Database
from shared.kafka.messaging import UnitOfWork, messaging_tables

metadata = MetaData()
tables = messaging_tables(metadata)
thing = Table("thing", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    await database.create_all(metadata)
    yield database
    await database.dispose()


async def rows(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(thing)) or 0)


async def test_callbacks_run_in_order_once_the_transaction_has_committed(db: Database) -> None:
    seen: list[int] = []
    async with UnitOfWork(db, tables, source="test") as uow:
        await uow.session.execute(insert(thing).values(id=1))
        uow.after_commit.append(lambda: seen.append(1))
        uow.after_commit.append(lambda: seen.append(2))
        assert seen == []  # nothing runs before the commit
    assert seen == [1, 2]
    assert await rows(db) == 1


async def test_no_callback_after_a_rollback(db: Database) -> None:
    called: list[str] = []
    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, tables, source="test") as uow:
            await uow.session.execute(insert(thing).values(id=3))
            uow.after_commit.append(lambda: called.append("no"))
            raise RuntimeError("the handler failed")
    assert called == [] and await rows(db) == 0


async def test_a_failing_callback_neither_undoes_the_commit_nor_stops_the_others(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[str] = []

    def broken() -> None:
        raise ValueError("listener bug")

    async with UnitOfWork(db, tables, source="test") as uow:
        await uow.session.execute(insert(thing).values(id=4))
        uow.after_commit += [broken, lambda: called.append("second")]
    assert called == ["second"] and await rows(db) == 1
    assert "after-commit callback" in caplog.text
