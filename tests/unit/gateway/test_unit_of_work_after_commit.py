"""`uow.after_commit`: callbacks run once the transaction has committed, never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from shared.commit_hooks import after_commit
from shared.db import Database
from shared.kafka.messaging import UnitOfWork, messaging_tables
from shared.saga import observe
from shared.saga.observe import SAGA_COMMANDS

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


# --- what holds no uow: shared.commit_hooks -------------------------------------------------


async def test_a_hook_outside_a_unit_of_work_runs_at_once() -> None:
    called: list[str] = []
    after_commit(lambda: called.append("now"))
    assert called == ["now"]


async def test_a_hook_inside_a_unit_of_work_waits_for_its_commit(db: Database) -> None:
    called: list[str] = []
    async with UnitOfWork(db, tables, source="test") as uow:
        await uow.session.execute(insert(thing).values(id=5))
        after_commit(lambda: called.append("committed"))
        assert called == []
    assert called == ["committed"]
    after_commit(lambda: called.append("after"))  # the unit of work is over: at once again
    assert called == ["committed", "after"]


async def test_a_saga_step_rolled_back_is_not_counted(db: Database) -> None:
    """A payment whose insert meets a replayed Idempotency-Key, or a consumer batch applied
    again one by one, must not count its step twice in `sandbank_saga_commands`."""
    counted = SAGA_COMMANDS.labels("test-kind", "reserve", "step")
    before = counted._value.get()
    saga = SimpleNamespace(id="s-1", kind="test-kind", step=None, attempts=0, deadline_at=None, reason=None)

    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, tables, source="test"):
            observe.sent(saga, "reserve", "step")
            raise RuntimeError("duplicate Idempotency-Key")
    assert counted._value.get() == before

    async with UnitOfWork(db, tables, source="test"):
        observe.sent(saga, "reserve", "step")
        assert counted._value.get() == before
    assert counted._value.get() == before + 1
