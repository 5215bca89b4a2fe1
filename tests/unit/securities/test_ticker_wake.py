"""An order that comes to rest wakes the market ticker once its unit of work has committed.
Woken before, the ticker's look can run while the order is still uncommitted, find
nothing resting and go back to its idle pace: the buy would wait idle_tick_s for its first
match instead of a step."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import MetaData

from services.securities import jobs, store
from services.securities.domain.sagas import REST
from services.securities.handlers import Context, try_fill
from services.securities.settings import SecuritiesSettings
from shared.db import Database
from shared.kafka.messaging import UnitOfWork, messaging_tables
from shared.runtime import Runtime

NOW = datetime(2026, 5, 20, 2, tzinfo=UTC)
tables = messaging_tables(MetaData())


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'securities.db'}")
    yield database
    await database.dispose()


def resting_buy(ctx: Context) -> store.Order:
    """A limit buy resting below the asks: it comes to rest, nothing matches it."""
    best_ask = ctx.sim.quote("600519").opposite(buying=True)[0].price
    return store.Order(
        id="order-1",
        kind="order",
        step=REST,
        attempts=1,
        customer_id="c",
        account_id="a",
        symbol="600519",
        side="buy",
        order_type="limit",
        quantity=100,
        filled_quantity=0,
        limit_price_milli=best_ask - 1_000,
        leg=1,
        reserved_minor=0,
        bank_day=date(2026, 5, 20),
        created_at=NOW,
        updated_at=NOW,
    )


async def test_an_order_coming_to_rest_wakes_the_ticker_once_it_is_committed(db: Database) -> None:
    ctx = Context(settings=SecuritiesSettings(tick_interval_ms=0))
    async with UnitOfWork(db, tables, source="securities") as uow:
        assert not await try_fill(ctx, uow, resting_buy(ctx), on_arrival=True)
        assert not ctx.wanted.is_set()  # the order is not there for the ticker to see yet
    assert ctx.wanted.is_set()


async def test_an_order_rolled_back_wakes_no_ticker(db: Database) -> None:
    ctx = Context(settings=SecuritiesSettings(tick_interval_ms=0))
    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, tables, source="securities") as uow:
            assert not await try_fill(ctx, uow, resting_buy(ctx), on_arrival=True)
            raise RuntimeError("the handler failed after the order came to rest")
    assert not ctx.wanted.is_set()


async def test_a_wake_while_the_ticker_looks_brings_the_next_look_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An order committed while a look runs, after it found nothing resting: its wake
    stays, and the next look comes at once rather than at the idle pace (30 s here)."""
    ctx = Context(settings=SecuritiesSettings(tick_interval_ms=0, idle_tick_s=30))
    looks = 0
    second = asyncio.Event()

    async def tick(_ctx: Context, _runtime: Runtime) -> bool:
        nonlocal looks
        looks += 1
        if looks == 1:
            ctx.wanted.set()  # the order's unit of work commits while this look runs
        else:
            second.set()
        return False  # this look found nothing resting

    monkeypatch.setattr(jobs, "tick", tick)
    task = asyncio.create_task(jobs.ticker(ctx, cast(Runtime, None))())
    try:
        await asyncio.wait_for(second.wait(), 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
