"""securities and accounts in-process on the integration package's broker (one per
backend), each with a database of its own: SQLite files, or on PostgreSQL securities'
tables in a schema of their own (the outbox, inbox and dead-letter tables would collide
with accounts' otherwise). securities asks accounts for a customer's accounts through
accounts' ASGI app. The market ticker is off: tests move prices with the sandbox price
control, so nothing depends on timing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.securities.main import create_app
from services.securities.settings import SecuritiesSettings, Settings
from shared.clock import Clock
from shared.events.topics import ACCOUNTS_COMMANDS, SECURITIES_EVENTS
from tests.integration.conftest import beside_the_bank, database_of, group_suffix, serving, settings_for
from tests.integration.harness import Bank, eventually
from tests.integration.pg import drop_schema, of_this_worker
from tests.integration.securities.harness import Brokerage

PG_SCHEMA = of_this_worker("securities_tests")
# Tests drive prices and time; the sweeper still runs (expiries, timeouts), briskly.
TEST_SETTINGS: dict[str, Any] = {"tick_interval_ms": 0, "sweep_interval_s": 0.1, "market_seed": 7}


async def _app(
    backend: str,
    url: str,
    schema: str,
    bootstrap_servers: str,
    bank: Bank,
    suffix: str,
    clock: Clock | None,
    **knobs: Any,
) -> FastAPI:
    """securities on its own database (on PostgreSQL, in `schema`) beside the bank."""
    settings = settings_for(
        "securities", url, bootstrap_servers, pg_schema=schema if backend != "sqlite" else None, cls=Settings
    ).model_copy(update={"securities": SecuritiesSettings(**(TEST_SETTINGS | knobs))})
    return await beside_the_bank(create_app, settings, bank, suffix, clock)


@pytest.fixture(scope="package")
async def brokerage(
    backend: str, bootstrap_servers: str, bank: Bank, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Brokerage]:
    url = await database_of("securities", backend, tmp_path_factory.mktemp("securities-sqlite"), PG_SCHEMA)
    app = await _app(backend, url, PG_SCHEMA, bootstrap_servers, bank, group_suffix(backend), None)
    # Scenarios move the sandbox clock days ahead (T+1, expiry); accounts' clock goes back
    # where it was when they are done, so the package's other tests never see it moved.
    bank_offset = bank.app.state.ctx.clock.offset
    try:
        async with serving(app, [SECURITIES_EVENTS, ACCOUNTS_COMMANDS]) as (http, tap):
            yield Brokerage(backend, app, http, bank, tap)
    finally:
        bank.app.state.ctx.clock.offset = bank_offset


SpareFactory = Callable[..., AbstractAsyncContextManager[Brokerage]]


@pytest.fixture
def spare_brokerage(backend: str, bootstrap_servers: str, brokerage: Brokerage, tmp_path: Path) -> SpareFactory:
    """Another securities app with its own database, consumer group and settings (other
    timeouts, hours or fees), beside the package's. `clock`: its sandbox clock (the
    package app's, to move both together; by default one of its own)."""

    @asynccontextmanager
    async def start(*, clock: Clock | None = None, **knobs: Any) -> AsyncIterator[Brokerage]:
        schema = f"securities_spare_{uuid.uuid4().hex[:8]}"
        url = await database_of("securities", backend, tmp_path, schema)
        suffix = f"-spare-{uuid.uuid4().hex[:8]}"
        app = await _app(backend, url, schema, bootstrap_servers, brokerage.bank, suffix, clock, **knobs)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://spare", timeout=30) as http,
            ):
                yield Brokerage(backend, app, http, brokerage.bank, brokerage.tap, brokerage.involved)
        finally:
            if backend != "sqlite":
                await drop_schema(url, schema)

    return start


@pytest.fixture(autouse=True)
async def no_hold_outlives_its_order(brokerage: Brokerage) -> AsyncIterator[None]:
    """After every scenario, no account the test touched keeps an active hold."""
    brokerage.involved.clear()
    yield

    async def held() -> dict[str, int]:
        balances = await brokerage.bank.balances(*brokerage.involved)
        return {a: h for a, (_, h) in zip(brokerage.involved, balances, strict=True)}

    # A saga the test's last request started may still be on its way to releasing its hold
    # (on a busy machine, seconds): what must not happen is a hold that stays.
    try:
        await eventually(lambda: _nothing_held(held), "every hold released", timeout_s=15)
    except AssertionError:
        left = await held()
        assert not any(left.values()), left


async def _nothing_held(held: Callable[[], Awaitable[dict[str, int]]]) -> bool:
    return not any((await held()).values())
