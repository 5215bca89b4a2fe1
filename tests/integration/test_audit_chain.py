"""Concurrent appends to the audit trail keep one chain: on SQLite (one writer per
process) and on PostgreSQL (SANDBANK_TEST_PG_URL), where two processes ("replicas") on
one database append at once and the head row's lock serialises them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, update

from shared import audit
from shared.db import Database
from tests.integration.pg import drop_schema, fresh_schema

PG_URL = os.environ.get("SANDBANK_TEST_PG_URL")
APPENDS = 40


@pytest.fixture
async def databases(backend: str, tmp_path: Path) -> AsyncIterator[tuple[list[Database], audit.AuditTables]]:
    metadata = MetaData()
    tables = audit.audit_tables(metadata)
    schema = f"audit_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        found = [Database(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")]
    else:
        assert PG_URL
        await fresh_schema(PG_URL, schema)
        found = [Database(PG_URL, schema=schema), Database(PG_URL, schema=schema)]
    await found[0].create_all(metadata)
    try:
        yield found, tables
    finally:
        for db in found:
            await db.dispose()
        if backend == "postgresql":
            assert PG_URL
            await drop_schema(PG_URL, schema)


async def append(db: Database, tables: audit.AuditTables, n: int) -> None:
    session = db.write()
    async with session, session.begin():
        await audit.record(
            session,
            tables,
            at=datetime.now(UTC),
            service="accounts",
            actor=f"customer:c-{n}",
            action="account.opened",
            subject_kind="account",
            subject_id=f"a-{n}",
            after={"n": n},
        )
        # Others wait on the head meanwhile: the chain must not fork while this one sleeps.
        await asyncio.sleep(0.001 * (n % 3))


async def test_concurrent_appends_keep_one_chain(databases: tuple[list[Database], audit.AuditTables]) -> None:
    dbs, tables = databases
    await asyncio.gather(*(append(dbs[n % len(dbs)], tables, n) for n in range(APPENDS)))
    async with dbs[0].read() as session:
        check = await audit.verify(session, tables, "accounts")
        actors = {e.actor for e in await audit.query(session, tables, "accounts", audit.AuditFilter(), limit=1000)}
    assert check.ok, check
    assert check.rows_checked == APPENDS
    assert actors == {f"customer:c-{n}" for n in range(APPENDS)}


async def test_a_changed_row_in_the_database_breaks_the_chain_there(
    databases: tuple[list[Database], audit.AuditTables],
) -> None:
    dbs, tables = databases
    for n in range(5):
        await append(dbs[0], tables, n)
    session = dbs[0].write()
    async with session, session.begin():
        await session.execute(update(tables.log).where(tables.log.c.seq == 3).values(after={"n": 99}))
    async with dbs[0].read() as session:
        check = await audit.verify(session, tables, "accounts", batch=2)
    assert not check.ok and check.broken is not None and check.broken.seq == 3


async def test_a_check_while_appends_go_on_finds_nothing_wrong(
    databases: tuple[list[Database], audit.AuditTables],
) -> None:
    dbs, tables = databases

    async def check() -> audit.ChainCheck:
        async with dbs[-1].read() as session:
            return await audit.verify(session, tables, "accounts", batch=3)

    results = await asyncio.gather(
        *(append(dbs[n % len(dbs)], tables, n) for n in range(APPENDS)), *(check() for _ in range(10))
    )
    checks = [r for r in results if isinstance(r, audit.ChainCheck)]
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert (await check()).rows_checked == APPENDS


def draft(n: int) -> dict[str, object]:
    return audit.entry(
        at=datetime.now(UTC), service="gateway", actor=f"customer:c-{n}", action="POST /v1/transfers", after={"n": n}
    )


async def test_the_writer_appends_queued_entries_in_order_beside_direct_appends(
    databases: tuple[list[Database], audit.AuditTables],
) -> None:
    dbs, tables = databases
    writer = audit.AuditWriter(dbs[0], tables, linger_s=0.005)
    running = asyncio.create_task(writer.run())
    try:
        for n in range(APPENDS):
            writer.add(draft(n))
            if n % 7 == 0:
                await append(dbs[-1], tables, 1000 + n)  # a change's own entry, in its transaction
                await asyncio.sleep(0.01)  # the writer appends what it has meanwhile
        await writer.flush()
    finally:
        running.cancel()
    assert writer.queued == 0
    async with dbs[0].read() as session:
        check = await audit.verify(session, tables, "gateway")
        entries = await audit.query(session, tables, "gateway", audit.AuditFilter(), limit=1000)
    assert check.ok, check
    queued = [e.actor for e in sorted(entries, key=lambda e: e.seq) if e.service == "gateway"]
    assert queued == [f"customer:c-{n}" for n in range(APPENDS)]
    assert check.rows_checked == APPENDS + len(range(0, APPENDS, 7))


async def test_a_failed_append_keeps_the_entries_for_the_next(
    databases: tuple[list[Database], audit.AuditTables], monkeypatch: pytest.MonkeyPatch
) -> None:
    dbs, tables = databases
    writer = audit.AuditWriter(dbs[0], tables)
    writer.add(draft(1))
    writer.add(draft(2))
    real = audit._append

    async def broken(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(audit, "_append", broken)
    with pytest.raises(OSError):
        await writer.flush()
    assert writer.queued == 2
    monkeypatch.setattr(audit, "_append", real)
    writer.add(draft(3))
    await writer.flush()
    async with dbs[0].read() as session:
        entries = await audit.query(session, tables, "gateway", audit.AuditFilter(), limit=10)
    assert [e.actor for e in entries] == ["customer:c-1", "customer:c-2", "customer:c-3"]
    assert [e.seq for e in entries] == [1, 2, 3]


async def test_entries_queued_when_the_writer_stops_are_appended_by_the_last_flush(
    databases: tuple[list[Database], audit.AuditTables],
) -> None:
    dbs, tables = databases
    writer = audit.AuditWriter(dbs[0], tables, linger_s=10)  # never appends on its own here
    running = asyncio.create_task(writer.run())
    for n in range(3):
        writer.add(draft(n))
    await asyncio.sleep(0.01)
    running.cancel()  # a stop: the background loop first, then the runtime's closers
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert writer.queued == 3
    await writer.flush()
    async with dbs[0].read() as session:
        entries = await audit.query(session, tables, "gateway", audit.AuditFilter(), limit=10)
    assert [e.actor for e in entries] == ["customer:c-0", "customer:c-1", "customer:c-2"]
