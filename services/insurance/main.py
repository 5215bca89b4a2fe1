"""insurance: products, quotes, policies and claims, paid through accounts over Kafka."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from services.insurance import api, domain, handlers, store
from services.insurance.accounts_client import AccountsClient
from services.insurance.consumer import TOPICS, consumers
from services.insurance.settings import InsuranceSettings
from shared.problems import install_error_statuses
from shared.runtime import Runtime, every
from shared.settings import Settings, service_settings
from shared.web import build_app, serve

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    insurance: InsuranceSettings | None = None,
    ctx: handlers.Context | None = None,
    accounts_transport: httpx.AsyncBaseTransport | None = None,
    consumer_group: str | None = None,
) -> FastAPI:
    """The insurance app. Tests may pass their own knobs, context (clock), an httpx
    transport to an in-process accounts app, and a consumer group of their own."""
    settings = settings or service_settings("insurance", Settings)
    insurance = insurance or InsuranceSettings()
    ctx = ctx or handlers.Context(
        thresholds=domain.Thresholds(
            auto_approve_below_minor=insurance.auto_approve_below_minor,
            four_eyes_from_minor=insurance.four_eyes_from_minor,
        ),
        step_timeout=timedelta(seconds=insurance.step_timeout_s),
        max_attempts=insurance.max_attempts,
    )

    async def on_start(runtime: Runtime) -> None:
        async with runtime.unit_of_work() as uow:
            await handlers.seed_products(ctx, uow)

    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx, consumer_group or "insurance"),
        on_start=on_start,
        clock=ctx.clock,
    )

    runtime.background.append(every(insurance.sweep_every_s, "saga timeout sweep", lambda: _sweep(runtime, ctx)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.accounts = AccountsClient(settings.urls.accounts, transport=accounts_transport)
        try:
            yield
        finally:
            await app.state.accounts.aclose()

    app = build_app(
        runtime,
        title="Sandbank insurance",
        description="Insurance products, quotes, policies and claims; premiums and payouts move "
        "only through `accounts.commands`.",
        routers=api.routers,
        extra_lifespan=lifespan,
    )
    install_error_statuses(app, api.ERROR_STATUSES)
    app.state.ctx = ctx
    return app


async def _sweep(runtime: Runtime, ctx: handlers.Context) -> None:
    """Re-send saga steps whose timeout passed (a cheap read first: usually none are)."""
    async with runtime.db.read() as session:
        due = await handlers.any_due(ctx, session)
    if due:
        async with runtime.unit_of_work() as uow:
            await handlers.retry_due_sagas(ctx, uow)


def main() -> None:
    serve(create_app, service_settings("insurance", Settings))


if __name__ == "__main__":
    main()
