"""payments: transfers, bills, merchant QR and top-ups as sagas over accounts.commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from services.payments import api, domain, store
from services.payments.consumer import TOPICS, consumers
from services.payments.directory import Directory
from services.payments.handlers import Context, Starter, resend_overdue_steps
from shared.runtime import Runtime, every
from shared.settings import Settings, service_settings
from shared.web import build_app, serve


def create_app(settings: Settings | None = None, ctx: Context | None = None) -> FastAPI:
    settings = settings or service_settings("payments")
    ctx = ctx or Context(
        policy=domain.RiskPolicy(
            velocity_max=settings.payments.velocity_max,
            velocity_window=timedelta(seconds=settings.payments.velocity_window_s),
            new_payee_threshold_minor=settings.payments.new_payee_threshold_minor,
        ),
        timeouts=domain.Timeouts(
            step=timedelta(seconds=settings.payments.step_timeout_s),
            max_reserve_attempts=settings.payments.max_reserve_attempts,
        ),
    )
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx),
        clock=ctx.clock,
    )
    runtime.background.append(
        every(1.0, "saga timeout sweep", lambda: resend_overdue_steps(ctx, runtime.db, store.messaging))
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.directory = Directory(settings.urls.accounts, lambda: runtime.tokens.service_token("payments"))
        try:
            yield
        finally:
            await app.state.directory.close()

    app = build_app(
        runtime,
        title="Sandbank payments",
        description="Transfers, bills, merchant QR and top-ups. Each payment is a saga over "
        "`accounts.commands`: hold the funds, decide risk, capture into the payee or release.",
        routers=[api.router],
        extra_lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.starter = Starter(ctx, runtime.unit_of_work)
    return app


def main() -> None:
    serve(create_app, service_settings("payments"))


if __name__ == "__main__":
    main()
