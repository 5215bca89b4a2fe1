"""accounts: customers, accounts and the double-entry ledger."""

from __future__ import annotations

from fastapi import FastAPI

from services.accounts import api, api_outflow, freezes, store
from services.accounts.consumer import TOPICS, consumers
from services.accounts.handlers import Context, seed
from services.accounts.settings import Settings, from_environment
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.runtime import Runtime
from shared.web import build_app, serve


def create_app(settings: Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or from_environment()
    ctx = Context(clock=overrides.clock or Clock())

    async def on_start(runtime: Runtime) -> None:
        async with runtime.unit_of_work() as uow:
            await seed(ctx, uow, demo=settings.sandbox)

    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx),
        on_start=on_start,
        clock=ctx.clock,
        group_suffix=overrides.group_suffix,
    )
    app = build_app(
        runtime,
        title="Sandbank accounts",
        description="Customers, accounts and the double-entry ledger. Money moves only "
        "through commands on `accounts.commands`.",
        routers=[api.router, api_outflow.router, freezes.router],
        error_statuses=api.ERROR_STATUSES,
    )
    app.state.ctx = ctx
    return app


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
