"""accounts: customers, accounts and the double-entry ledger."""

from __future__ import annotations

from fastapi import FastAPI

from services.accounts import api, store
from services.accounts.consumer import TOPICS, consumers
from services.accounts.handlers import Context, seed
from shared.runtime import Runtime
from shared.settings import Settings, service_settings
from shared.web import build_app, serve


def create_app(settings: Settings | None = None, ctx: Context | None = None) -> FastAPI:
    settings = settings or service_settings("accounts", Settings)
    ctx = ctx or Context()

    async def on_start(runtime: Runtime) -> None:
        async with runtime.unit_of_work() as uow:
            await seed(ctx, uow, demo=settings.sandbox)

    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx),
        on_start=on_start,
        clock=ctx.clock,
    )
    app = build_app(
        runtime,
        title="Sandbank accounts",
        description="Customers, accounts and the double-entry ledger. Money moves only "
        "through commands on `accounts.commands`.",
        routers=[api.router],
    )
    app.state.ctx = ctx
    return app


def main() -> None:
    serve(create_app, service_settings("accounts", Settings))


if __name__ == "__main__":
    main()
