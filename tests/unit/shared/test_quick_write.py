"""QuickWrite and UnitOfWork.stage: many rows per statement, bound as a session would
bind them, inside the unit of work's transaction, on both SQLite paths."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from shared import audit
from shared.db import Database, UtcDateTime
from shared.kafka.messaging import UnitOfWork, messaging_tables

metadata = MetaData()
tables = messaging_tables(metadata)
rows = Table(
    "row",
    metadata,
    Column("id", String(10), primary_key=True),
    Column("n", Integer),
    Column("data", JSON),
    Column("at", UtcDateTime),
)


class Base(DeclarativeBase):
    metadata = metadata


class Counter(Base):
    """An ORM class on its own table: what a use case adds through the session."""

    __tablename__ = "counter"
    id: Mapped[str] = mapped_column(String(10), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


INSERT = insert(rows)
UPDATE = update(rows).where(rows.c.id == bindparam("b_id")).values(n=bindparam("b_n"))
WHEN = datetime(2026, 11, 25, 9, 30, 0, 500, tzinfo=UTC)


@pytest.fixture(params=[True, False], ids=["inline-sqlite", "aiosqlite"])
async def db(tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}", sqlite_inline=request.param)
    await database.create_all(metadata)
    yield database  # type: ignore[misc]
    await database.dispose()


def uow(db: Database) -> UnitOfWork:
    return UnitOfWork(db, tables, source="tests")


async def all_rows(db: Database) -> list[tuple]:
    async with db.read() as session:
        return [tuple(r) for r in (await session.execute(select(rows).order_by(rows.c.id))).all()]


async def test_staged_rows_are_written_at_commit_with_their_types(db: Database) -> None:
    async with uow(db) as work:
        work.stage(INSERT, {"id": "a", "n": 1, "data": {"k": [1, 2]}, "at": WHEN})
        work.stage(INSERT, {"id": "b", "n": 2, "data": None, "at": WHEN})
        assert await all_rows(db) == []  # nothing before the commit

    assert await all_rows(db) == [("a", 1, {"k": [1, 2]}, WHEN), ("b", 2, None, WHEN)]


async def test_a_constraint_violation_is_sqlalchemys_and_nothing_is_kept(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with uow(db) as work:
            work.stage(INSERT, {"id": "a", "n": 1, "data": None, "at": WHEN})
            work.stage(INSERT, {"id": "a", "n": 2, "data": None, "at": WHEN})

    assert await all_rows(db) == []


async def test_an_update_that_finds_no_row_fails_the_unit_of_work(db: Database) -> None:
    async with uow(db) as work:
        work.stage(INSERT, {"id": "a", "n": 1, "data": None, "at": WHEN})

    with pytest.raises(StaleDataError):
        async with uow(db) as work:
            work.stage(UPDATE, {"b_id": "a", "b_n": 5})
            work.stage(UPDATE, {"b_id": "missing", "b_n": 6})

    assert await all_rows(db) == [("a", 1, None, WHEN)]  # rolled back, the first update too


async def test_staged_rows_follow_what_the_unit_of_work_already_wrote(db: Database) -> None:
    async with uow(db) as work:
        work.stage(UPDATE, {"b_id": "a", "b_n": 7})
        await work.session.execute(insert(rows).values(id="a", n=1, data=None, at=WHEN))

    assert await all_rows(db) == [("a", 7, None, WHEN)]


async def test_rows_the_orm_holds_unflushed_are_written_before_staged_ones(db: Database) -> None:
    counters = Counter.__table__
    bump = update(counters).where(counters.c.id == bindparam("b_id")).values(n=bindparam("b_n"))
    async with uow(db) as work:
        work.session.add(Counter(id="c", n=1))  # pending in the session, not flushed
        work.stage(bump, {"b_id": "c", "b_n": 2})

    async with db.read() as session:
        assert (await session.execute(select(counters.c.n))).scalars().all() == [2]


async def test_a_quick_select_within_a_unit_of_work_sees_what_it_wrote(db: Database) -> None:
    by_id = select(rows.c.n, rows.c.at).where(rows.c.id == bindparam("k"))
    async with uow(db) as work:
        await work.session.execute(insert(rows).values(id="w", n=3, data=None, at=WHEN))
        assert await db.quick_select(by_id).within(work.session, k="w") == [(3, WHEN)]
        assert await db.quick_select(by_id).all(k="w") == []  # not committed yet: others do not see it
    assert await db.quick_select(by_id).all(k="w") == [(3, WHEN)]


async def test_a_quick_select_binds_its_parameters_as_a_session_would(db: Database) -> None:
    """A datetime parameter is compared as stored (UTC, SQLAlchemy's text), in any zone."""
    since = select(rows.c.id).where(rows.c.at >= bindparam("since", type_=UtcDateTime)).order_by(rows.c.id)
    async with uow(db) as work:
        work.stage(INSERT, {"id": "a", "n": 1, "data": None, "at": WHEN})
        work.stage(INSERT, {"id": "b", "n": 2, "data": None, "at": WHEN + timedelta(hours=1)})
    beijing = timezone(timedelta(hours=8))
    async with db.write() as session, session.begin():
        for at, found in [
            (WHEN, ["a", "b"]),
            (WHEN + timedelta(seconds=1), ["b"]),
            (WHEN.astimezone(beijing), ["a", "b"]),
        ]:
            assert await db.quick_select(since).within(session, since=at) == [(i,) for i in found], at
            assert [r[0] for r in await session.execute(since, {"since": at})] == found, at
    assert await db.quick_select(since).all(since=WHEN + timedelta(minutes=30)) == [("b",)]


async def test_audit_entries_a_unit_of_work_appends_join_one_chain(db: Database) -> None:
    for n in range(3):
        async with uow(db) as work:
            work.audit(actor="system", action=f"tested.{n}", subject_kind="row", subject_id=str(n))
            work.audit(actor="system", action=f"tested.{n}.again")
    async with db.write() as session, session.begin():
        await audit.record_many(session, tables.audit, [audit.entry(at=WHEN, service="tests", actor="x", action="y")])

    async with db.read() as session:
        check = await audit.verify(session, tables.audit, "tests")
    assert check.ok and check.rows_checked == 7


async def test_rows_that_share_a_value_and_rows_that_do_not_are_each_bound_as_theirs(db: Database) -> None:
    """A value converted once for the rows that hold the same object: None, another time
    and the first time again after them are each written as they are."""
    later = WHEN + timedelta(minutes=1)
    times = [WHEN, WHEN, None, later, WHEN, None, None]
    async with uow(db) as work:
        for i, at in enumerate(times):
            work.stage(INSERT, {"id": f"r{i}", "n": i, "data": {"i": i} if i % 2 else None, "at": at})

    assert await all_rows(db) == [(f"r{i}", i, {"i": i} if i % 2 else None, at) for i, at in enumerate(times)]


async def test_a_quick_select_takes_an_in_of_a_list_of_any_length(db: Database) -> None:
    listed = select(rows.c.id, rows.c.at).where(
        rows.c.id.in_(bindparam("ids", expanding=True)), rows.c.n >= bindparam("least")
    )
    async with uow(db) as work:
        for i in range(4):
            work.stage(INSERT, {"id": f"r{i}", "n": i, "data": None, "at": WHEN})
    async with uow(db) as work:
        for ids, least, found in [
            (["r0", "r2", "nobody"], 0, ["r0", "r2"]),
            (["r1", "r2", "r3"], 2, ["r2", "r3"]),
            (["r3"], 0, ["r3"]),
            ([], 0, []),
        ]:
            got = await db.quick_select(listed).within(work.session, ids=ids, least=least)
            assert sorted(got) == [(i, WHEN) for i in found], ids
            assert sorted(await db.quick_select(listed).all(ids=ids, least=least)) == sorted(got)


async def test_a_quick_transaction_commits_or_rolls_back_and_waits_for_the_writer(tmp_path: Path) -> None:
    """Inline SQLite only: it takes the writer's one connection, so it waits while a unit
    of work holds it, and what it writes stands only once it commits."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    await db.create_all(metadata)
    write = db.quick_write(INSERT)
    try:
        with pytest.raises(RuntimeError):
            async with db.quick_transaction() as raw:
                write.execute(raw, [{"id": "gone", "n": 0, "data": None, "at": WHEN}])
                raise RuntimeError("rolled back")

        async def quick() -> None:
            async with db.quick_transaction() as raw:
                write.execute(raw, [{"id": "q", "n": 2, "data": None, "at": WHEN}])

        async with uow(db) as work:
            await work.seen("tests", ["m"])  # the unit of work holds the writer from here
            waiting = asyncio.create_task(quick())
            for _ in range(5):
                await asyncio.sleep(0)
            assert not waiting.done()
            work.stage(INSERT, {"id": "u", "n": 1, "data": None, "at": WHEN})
        await waiting

        assert await all_rows(db) == [("q", 2, None, WHEN), ("u", 1, None, WHEN)]
    finally:
        await db.dispose()


async def test_a_session_asked_for_after_quick_statements_shares_their_transaction(db: Database) -> None:
    """A unit of work opens no session until something asks for one; one asked for after
    its quick statements writes in the same transaction, so both commit together."""
    async with uow(db) as work:
        await work.seen("tests", ["m"])  # a quick select: the transaction is open from here
        work.stage(INSERT, {"id": "q", "n": 1, "data": None, "at": WHEN})
        work.session.add(Counter(id="c", n=1))
        await work.session.flush()
        await work.session.execute(insert(rows).values(id="s", n=2, data=None, at=WHEN))

    assert await all_rows(db) == [("q", 1, None, WHEN), ("s", 2, None, WHEN)]
    async with db.read() as session:
        assert (await session.execute(select(Counter.__table__.c.n))).scalars().all() == [1]


async def test_a_failed_unit_of_work_rolls_back_its_quick_statements_and_its_session_alike(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with uow(db) as work:
            await work.seen("tests", ["m"])
            await work.session.execute(insert(rows).values(id="s", n=2, data=None, at=WHEN))
            work.stage(INSERT, {"id": "q", "n": 1, "data": None, "at": WHEN})
            raise RuntimeError("rolled back")

    with pytest.raises(IntegrityError):
        async with uow(db) as work:
            work.session.add(Counter(id="c", n=1))
            work.stage(INSERT, {"id": "a", "n": 1, "data": None, "at": WHEN})
            work.stage(INSERT, {"id": "a", "n": 2, "data": None, "at": WHEN})

    assert await all_rows(db) == []
    async with db.read() as session:
        assert (await session.execute(select(Counter.__table__.c.n))).scalars().all() == []
    async with uow(db) as work:  # the writer was given back both times
        work.stage(INSERT, {"id": "b", "n": 3, "data": None, "at": WHEN})
    assert await all_rows(db) == [("b", 3, None, WHEN)]


async def test_units_of_work_without_a_session_take_the_writer_in_turn(db: Database) -> None:
    """Two units of work that only stage and look up: the second waits for the first's
    commit and reads what it wrote."""
    by_id = select(rows.c.n).where(rows.c.id == bindparam("k"))
    first_in = asyncio.Event()

    async def first() -> None:
        async with uow(db) as work:
            await db.quick_select(by_id).within(work.transaction, k="a")
            first_in.set()
            for _ in range(5):
                await asyncio.sleep(0)
            work.stage(INSERT, {"id": "a", "n": 1, "data": None, "at": WHEN})

    async def second() -> list[tuple]:
        await first_in.wait()
        async with uow(db) as work:
            found = await db.quick_select(by_id).within(work.transaction, k="a")
            work.stage(UPDATE, {"b_id": "a", "b_n": 2})
        return found

    _, seen = await asyncio.gather(first(), second())

    assert seen == [(1,)]
    assert await all_rows(db) == [("a", 2, None, WHEN)]
