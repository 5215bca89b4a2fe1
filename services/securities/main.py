"""securities: a simulated A-share market, quotes, orders, fills, positions and
bank-securities transfers. Cash moves only through `accounts.commands`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.securities import api, jobs, store
from services.securities.config import SecuritiesSettings
from services.securities.consumer import TOPICS, consumers
from services.securities.directory import AccountsDirectory
from services.securities.handlers import Context
from shared.runtime import Runtime
from shared.settings import Settings, service_settings
from shared.web import build_app, serve


def create_app(
    settings: Settings | None = None,
    ctx: Context | None = None,
    *,
    securities: SecuritiesSettings | None = None,
    accounts_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`ctx` (or `securities`, the SECURITIES_ settings) sets the market seed, hours,
    fees and saga timeouts; `accounts_transport` lets a test reach an in-process
    accounts app instead of `settings.urls.accounts`."""
    settings = settings or service_settings("securities", Settings)
    ctx = ctx or Context(settings=securities or SecuritiesSettings())
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx),
        clock=ctx.clock,
    )
    # POST /internal/reset empties the tables; the in-memory market goes back to its seed.
    runtime.on_reset.append(ctx.reset_market)
    runtime.background += jobs.background(ctx, runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.directory = AccountsDirectory(settings.urls.accounts, transport=accounts_transport)
        try:
            yield
        finally:
            await app.state.directory.close()

    app = build_app(
        runtime,
        title="Sandbank securities",
        description="A simulated A-share market (quotes, a live quote stream, price alerts), orders, fills, "
        "positions and bank-securities transfers. Cash moves only through `accounts.commands`.",
        routers=[api.router],
        extra_lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app


def main() -> None:
    serve(create_app, service_settings("securities", Settings))


if __name__ == "__main__":
    main()
