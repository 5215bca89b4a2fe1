"""The gateway's webhooks on a real database (SQLite) and real HTTP, without the rest
of the stack: notifications written as the consumer writes them, deliveries sent by the
worker to a receiver in the test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store import migrations
from gateway.webhooks.delivery import DeliveryWorker, Schedule
from shared.db import Database
from shared.migrations import migrate


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to check."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await migrate(database, migrations)
    try:
        yield database
    finally:
        await database.dispose()


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
