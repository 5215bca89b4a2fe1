"""Two replicas of a service on one PostgreSQL database (ADR 0018) share its outbox and
its overdue sagas without doing anything twice: each relay claims the rows it publishes,
each sweeper the sagas it moves on (`FOR UPDATE SKIP LOCKED`). Two Database objects on
one schema stand for the two processes.

Runs when SANDBANK_TEST_PG_URL names a PostgreSQL database (CI sets it: .ci/run)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.clock import Clock
from shared.db import Database, naming_metadata
from shared.kafka.messaging import MessagingTables, UnitOfWork, messaging_tables
from shared.kafka.relay import OutboxRelay
from shared.saga.store import SagaColumns, SagaSweeper, SagaTable
from tests.integration.pg import drop_schema, fresh_schema

PG_URL = os.environ.get("SANDBANK_TEST_PG_URL")

pytestmark = pytest.mark.skipif(not PG_URL, reason="SANDBANK_TEST_PG_URL is not set (CI sets it: .ci/run)")

ROWS = 600
SAGAS = 120


class Base(DeclarativeBase):
    metadata = naming_metadata()


class Errand(SagaColumns, Base):
    __tablename__ = "errand"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)


TABLES: MessagingTables = messaging_tables(Base.metadata)


class RecordingProducer:
    """Keeps what it was asked to send, and takes a moment over it, as a broker's
    acknowledgement does: the other replica's drain runs meanwhile."""

    def __init__(self, sent: Counter[bytes]) -> None:
        self.sent = sent

    async def send_many(self, messages: Sequence[tuple[str, str | None, bytes, list[Any]]]) -> None:
        await asyncio.sleep(0.005)
        self.sent.update(payload for _, _, payload, _ in messages)


@pytest.fixture
async def replicas(backend: str) -> AsyncIterator[tuple[Database, Database]]:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer, hence one replica: nothing to claim")
    assert PG_URL
    schema = f"claims_{uuid.uuid4().hex[:8]}"
    await fresh_schema(PG_URL, schema)
    one, two = Database(PG_URL, schema=schema), Database(PG_URL, schema=schema)
    await one.create_all(Base.metadata)
    try:
        yield one, two
    finally:
        await one.dispose()
        await two.dispose()
        await drop_schema(PG_URL, schema)


async def test_two_relays_publish_every_outbox_row_once(replicas: tuple[Database, Database]) -> None:
    one, _ = replicas
    now = datetime.now(UTC)
    async with one.write() as session, session.begin():
        await session.execute(
            insert(TABLES.outbox),
            [
                {"topic": "t", "key": str(n % 7), "payload": str(n).encode(), "headers": [], "created_at": now}
                for n in range(ROWS)
            ],
        )
    sent: Counter[bytes] = Counter()
    relays = [
        OutboxRelay(db, TABLES, RecordingProducer(sent), batch_size=25)  # type: ignore[arg-type]
        for db in replicas
    ]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.drain_once():
            pass

    await asyncio.gather(*(drain(r) for r in relays))

    assert sorted(sent) == sorted(str(n).encode() for n in range(ROWS))
    assert max(sent.values()) == 1, "a row was published twice"
    assert all(r.published > 0 for r in relays), [r.published for r in relays]
    assert await relays[0].backlog() == 0


async def test_two_sweepers_carry_out_each_overdue_saga_once(replicas: tuple[Database, Database]) -> None:
    one, _ = replicas
    clock = Clock()
    now = clock.now()
    ids = [str(uuid.uuid4()) for _ in range(SAGAS)]
    async with one.write() as session, session.begin():
        session.add_all(
            Errand(
                id=i,
                kind="errand",
                step="ask",
                attempts=1,
                deadline_at=now - timedelta(seconds=1),
                created_at=now,
                updated_at=now,
            )
            for i in ids
        )

    async def ask_again(uow: UnitOfWork, overdue: Sequence[str], at: datetime) -> None:
        """What a decider's `on_deadline` does: send the step again, move the deadline."""
        rows = await uow.session.scalars(select(Errand).where(Errand.id.in_(list(overdue))).with_for_update())
        for errand in rows.all():
            if errand.deadline_at is None or errand.deadline_at >= at:
                continue
            errand.attempts += 1
            errand.deadline_at = at + timedelta(seconds=60)
            uow.publish_raw("errands", errand.id, errand.id.encode(), [])
        await asyncio.sleep(0.01)  # the other sweeper looks meanwhile

    sweepers = [
        SagaSweeper(
            db,
            lambda db=db: UnitOfWork(db, TABLES, source="errands", clock=clock),
            clock,
            [SagaTable(Errand, ask_again)],
            limit=40,
        )
        for db in replicas
    ]
    handed = [0, 0]
    for _ in range(4):
        counts = await asyncio.gather(*(s.sweep() for s in sweepers))
        handed = [h + c for h, c in zip(handed, counts, strict=True)]

    async with one.read() as session:
        attempts = Counter((await session.scalars(select(Errand.attempts))).all())
        resent = Counter(
            (await session.execute(select(TABLES.outbox.c.key, func.count()).group_by(TABLES.outbox.c.key))).all()
        )
    assert attempts == {2: SAGAS}, "a deadline's step was carried out twice, or not at all"
    # Each saga went to one sweeper: none was handed to both and left to the handler's check.
    assert sum(handed) == SAGAS and min(handed) > 0, handed
    assert {key for key, _ in resent} == set(ids)
    assert {count for _, count in resent} == {1}
