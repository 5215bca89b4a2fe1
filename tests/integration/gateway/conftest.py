"""The gateway's webhooks on a real database (SQLite, and PostgreSQL when
SANDBANK_TEST_PG_URL names one) and real HTTP, without the rest of the stack:
notifications written as the consumer writes them, deliveries sent by the worker to a
receiver in the test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store import migrations
from gateway.webhooks.delivery import DeliveryWorker, Schedule
from shared.db import Database
from shared.migrations import migrate
from tests.integration.pg import drop_schema, fresh_schema

PG_URL = os.environ.get("SANDBANK_TEST_PG_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to check."""


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The gateway's schema, at its newest revision, on a database of the test's own."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
        schema = None
    else:
        assert PG_URL
        schema = f"webhooks_{uuid.uuid4().hex[:8]}"
        await fresh_schema(PG_URL, schema)
        database = Database(PG_URL, schema=schema)
    await migrate(database, migrations)
    try:
        yield database
    finally:
        await database.dispose()
        if schema is not None:
            assert PG_URL
            await drop_schema(PG_URL, schema)


@pytest.fixture
async def worker(db: Database) -> AsyncIterator[DeliveryWorker]:
    """The delivery worker, running, with a fast schedule: 3 attempts, 0.05 s then 0.1 s apart."""
    running = DeliveryWorker(db, Schedule(max_attempts=3, base_s=0.05, cap_s=1.0, timeout_s=1.0, concurrency=4))
    task = asyncio.create_task(running.run())
    try:
        yield running
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
