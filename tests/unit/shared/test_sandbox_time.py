"""Messages carry sandbox time: a unit of work stamps each envelope with its process's
sandbox clock, so a notification's `event_at` agrees with the rest of the sandbox after
the clock has moved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from shared.clock import Clock
from shared.db import Database
from shared.events import Envelope
from shared.events import accounts as ev
from shared.kafka.messaging import UnitOfWork, messaging_tables

metadata = MetaData()
tables = messaging_tables(metadata)
DAY = timedelta(days=1)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'time.db'}")
    await database.create_all(metadata)
    yield database
    await database.dispose()


def _reserve() -> ev.ReserveFunds:
    return ev.ReserveFunds(account_id="acc-1", hold_id="hold-1", amount_minor=1250, reference="bill 42")


async def test_an_envelope_published_a_day_on_is_stamped_a_day_on(db: Database) -> None:
    clock = Clock(DAY)
    async with UnitOfWork(db, tables, source="payments", clock=clock) as uow:
        envelope = uow.publish(_reserve())
    assert abs(envelope.time - clock.now()) < timedelta(seconds=5)
    assert envelope.time - datetime.now(UTC) > DAY - timedelta(seconds=5)


async def test_what_travels_is_the_sandbox_time(db: Database) -> None:
    clock = Clock(DAY)
    async with UnitOfWork(db, tables, source="payments", clock=clock) as uow:
        sent = uow.publish(_reserve())
        payload = uow._outbox[0]["payload"]
    assert Envelope.from_bytes(payload).time == sent.time


def test_wrap_takes_the_time_it_is_given() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert Envelope.wrap(_reserve(), source="payments", time=at).time == at
