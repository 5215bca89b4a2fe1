"""A process that restarts comes back on the sandbox clock it was on: its sagas' deadlines
are on that clock, and back at real time none would be due for as long as it had been
moved (real SQLite; no broker is needed to set or load the clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from shared.kafka.messaging import messaging_tables
from shared.migrations import Migrations
from shared.runtime import Runtime
from shared.settings import AuthSettings, DbSettings, Settings

metadata = MetaData()
tables = messaging_tables(metadata)


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[[], Runtime]]:
    made: list[Runtime] = []

    def one() -> Runtime:
        settings = Settings(
            service="tests",
            environment="sandbox",
            db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}"),
            auth=AuthSettings(),
        )
        made.append(Runtime(settings, metadata=metadata, migrations=Migrations(metadata, tmp_path), tables=tables))
        return made[-1]

    yield one
    for runtime in made:
        await runtime.db.dispose()


async def test_a_restarted_process_is_back_on_the_moved_clock(start: Callable[[], Runtime]) -> None:
    before = start()
    await before.db.create_all(metadata)
    await before.set_clock_offset(timedelta(days=9, hours=2))
    assert before.clock.offset == timedelta(days=9, hours=2)
    await before.set_clock_offset(timedelta(days=10))  # moved again: the last one counts

    after = start()
    assert after.clock.offset == timedelta(0)
    await after._load_clock()
    assert after.clock.offset == timedelta(days=10)


async def test_a_reset_puts_the_kept_clock_back_to_real_time(start: Callable[[], Runtime]) -> None:
    runtime = start()
    await runtime.db.create_all(metadata)
    await runtime.set_clock_offset(timedelta(hours=5))
    await runtime.reset()
    assert runtime.clock.offset == timedelta(0)
    again = start()
    await again._load_clock()
    assert again.clock.offset == timedelta(0)


@pytest.mark.parametrize("hours", [0, 1])
async def test_a_process_never_moved_starts_at_real_time(start: Callable[[], Runtime], hours: int) -> None:
    runtime = start()
    await runtime.db.create_all(metadata)
    if hours:
        await runtime.set_clock_offset(timedelta(0))
    await runtime._load_clock()
    assert runtime.clock.offset == timedelta(0)
