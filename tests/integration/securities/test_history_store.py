"""The market history the securities database keeps: bars rewritten as a day goes on,
ticks appended, ticks beyond their retention pruned, and what a restart reads back."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.securities import store
from services.securities.domain import Bar, Tick
from tests.integration.pg import drop_schema, fresh_schema, of_this_worker

DAYS = [date(2026, 11, 23) + timedelta(days=n) for n in range(4)]


@pytest.fixture(params=["sqlite", "postgresql"])
async def session(request: pytest.FixtureRequest) -> AsyncIterator[AsyncSession]:
    # Bars are written with each database's own upsert.
    if request.param == "sqlite":
        engine = create_async_engine("sqlite+aiosqlite://")
        schema = None
    else:
        url = os.environ.get("SANDBANK_TEST_PG_URL") or pytest.skip("SANDBANK_TEST_PG_URL not set")
        schema = of_this_worker("securities_history_tests")
        await fresh_schema(url, schema)
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: store.MarketBar.__table__.create(c))
        await conn.run_sync(lambda c: store.MarketTick.__table__.create(c))
    async with async_sessionmaker(engine)() as s:
        yield s
    await engine.dispose()
    if schema is not None:
        await drop_schema(url, schema)


def _bar(day: date, close: int, *, complete: bool) -> Bar:
    return Bar(day, 33_450, max(close, 33_450), min(close, 33_450), close, 100, 3_345_00, complete)


def _tick(day: date, price: int) -> Tick:
    return Tick(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC), price, 100)


async def test_bars_are_rewritten_ticks_pruned_past_retention_and_today_read_back(session: AsyncSession) -> None:
    for n, day in enumerate(DAYS):
        bars = [("600036", _bar(d, 33_500 + n, complete=d < day)) for d in DAYS[: n + 1]]
        await store.save_market_history(session, bars, [("600036", day, _tick(day, 33_500 + n))])
        await session.flush()
        await store.prune_ticks(session, keep_days=2)
    await session.commit()

    days_with_ticks = (await session.scalars(select(store.MarketTick.day).distinct())).all()
    assert sorted(days_with_ticks) == DAYS[-2:]  # two market days of ticks kept
    assert await session.scalar(select(func.count()).select_from(store.MarketBar)) == 4  # one row per day

    bars, ticks = await store.load_market_history(session, DAYS[-1], bars_kept=750)
    assert [(b.day, b.complete) for _, b in bars] == [(d, d < DAYS[-1]) for d in DAYS]
    assert [t.price for _, t in ticks] == [33_503]  # today's only
