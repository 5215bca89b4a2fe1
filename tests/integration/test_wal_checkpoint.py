"""The runtime checkpoints inline SQLite's WAL every second (ADR 0007); an idle process,
whose WAL has not changed since the last checkpoint, skips the worker thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert

from shared import db as shared_db
from shared.db import Database


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to
    check; without it (and the accounts app of each database backend it asks for) each
    test runs once, not once per backend."""


async def test_a_checkpoint_runs_after_a_write_and_is_skipped_while_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata = MetaData()
    table = Table("row", metadata, Column("id", Integer, primary_key=True))
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    assert db.inline
    copied: list[sqlite3.Connection] = []
    real = shared_db._checkpoint

    def counting(connection: sqlite3.Connection) -> None:
        copied.append(connection)
        real(connection)

    monkeypatch.setattr(shared_db, "_checkpoint", counting)
    try:
        await db.create_all(metadata)

        async def write(n: int) -> None:
            async with db.write() as session, session.begin():
                await session.execute(insert(table).values(id=n))

        await write(1)
        await db.checkpoint()
        assert len(copied) == 1
        await db.checkpoint()
        await db.checkpoint()
        assert len(copied) == 1  # nothing written since: nothing to copy
        await write(2)
        await db.checkpoint()
        assert len(copied) == 2
    finally:
        await db.dispose()


async def test_checkpoints_share_one_connection_that_dispose_closes(tmp_path: Path) -> None:
    """The checkpoint's connection is opened once and kept: a new one each second read the
    whole schema again."""
    metadata = MetaData()
    table = Table("row", metadata, Column("id", Integer, primary_key=True))
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    await db.create_all(metadata)

    async def write_and_checkpoint(n: int) -> sqlite3.Connection | None:
        async with db.write() as session, session.begin():
            await session.execute(insert(table).values(id=n))
        await db.checkpoint()
        return db._checkpointer

    kept = await write_and_checkpoint(1)
    assert kept is not None
    assert await write_and_checkpoint(2) is kept
    await db.dispose()
    assert db._checkpointer is None
    with pytest.raises(sqlite3.ProgrammingError):
        kept.execute("SELECT 1")  # closed
