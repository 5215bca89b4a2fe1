"""securities and accounts in-process on the integration package's broker (one per
backend), each with a database of its own: SQLite files, or on PostgreSQL securities'
tables in a schema of their own (the outbox, inbox and dead-letter tables would collide
with accounts' otherwise). securities asks accounts for a customer's accounts through
accounts' ASGI app. The market ticker is off: tests move prices with the sandbox price
control, so nothing depends on timing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.securities.config import SecuritiesSettings
from services.securities.handlers import Context
from services.securities.main import create_app
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS, SECURITIES_EVENTS
from tests.integration.conftest import EXTERNAL_BROKER, _start_group_at_end, database_of, settings_for
from tests.integration.harness import Bank, Tap
from tests.integration.pg import drop_schema, use_schema
from tests.integration.securities.harness import Brokerage

PG_SCHEMA = "securities_tests"
# Tests drive prices and time; the sweeper still runs (expiries, timeouts), briskly.
TEST_SETTINGS = {"tick_interval_ms": 0, "sweep_interval_s": 0.1, "market_seed": 7}


def _securities_app(backend: str, url: str, schema: str, bootstrap_servers: str, bank: Bank, ctx: Context) -> FastAPI:
    app = create_app(
        settings_for("securities", url, bootstrap_servers), ctx, accounts_transport=httpx.ASGITransport(app=bank.app)
    )
    if backend != "sqlite":
        use_schema(app.state.runtime.db, schema)
    return app


@pytest.fixture(scope="package")
async def brokerage(
    backend: str, bootstrap_servers: str, bank: Bank, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Brokerage]:
    url = await database_of("securities", backend, tmp_path_factory.mktemp("securities-sqlite"), PG_SCHEMA)
    ctx = Context(settings=SecuritiesSettings(**TEST_SETTINGS))
    app = _securities_app(backend, url, PG_SCHEMA, bootstrap_servers, bank, ctx)
    if EXTERNAL_BROKER:
        group = f"securities-test-{backend}-{uuid.uuid4().hex[:8]}"
        for consumer in app.state.runtime.consumers:
            consumer.name = group
        await _start_group_at_end(bootstrap_servers, group, ACCOUNTS_EVENTS, settings_partitions(app))
    # Scenarios move the sandbox clock days ahead (T+1, expiry); accounts' clock goes back
    # where it was when they are done, so the package's other tests never see it moved.
    bank_offset = bank.app.state.ctx.clock.offset
    async with app.router.lifespan_context(app):
        tap = Tap(bootstrap_servers, [SECURITIES_EVENTS, ACCOUNTS_COMMANDS])
        await tap.start()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://securities", timeout=30
            ) as http:
                yield Brokerage(backend, app, http, bank, tap)
        finally:
            await tap.stop()
            bank.app.state.ctx.clock.offset = bank_offset


def settings_partitions(app: FastAPI) -> int:
    return int(app.state.runtime.settings.kafka.partitions)


SpareFactory = Callable[..., AbstractAsyncContextManager[Brokerage]]


@pytest.fixture
def spare_brokerage(backend: str, bootstrap_servers: str, brokerage: Brokerage, tmp_path: Path) -> SpareFactory:
    """Another securities app with its own database and settings and no consumer: it
    sends commands to accounts but never hears the answers (a deaf saga), or serves a
    test that needs other hours or fees."""

    @asynccontextmanager
    async def start(*, clock_offset_s: float = 0, **overrides: Any) -> AsyncIterator[Brokerage]:
        schema = f"securities_spare_{uuid.uuid4().hex[:8]}"
        url = await database_of("securities", backend, tmp_path, schema)
        ctx = Context(settings=SecuritiesSettings(**(TEST_SETTINGS | overrides)))
        ctx.clock.advance(timedelta(seconds=clock_offset_s))
        app = _securities_app(backend, url, schema, bootstrap_servers, brokerage.bank, ctx)
        runtime = app.state.runtime
        runtime.consumers, runtime.consumer_specs = [], []
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
    balances = await brokerage.bank.balances(*brokerage.involved)
    held = {a: h for a, (_, h) in zip(brokerage.involved, balances, strict=True)}
    assert not any(held.values()), held
