"""insurance: products, quotes, policies and claims, paid through accounts over Kafka."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.insurance import api, domain, handlers, store
from services.insurance.consumer import TOPICS, consumers
from services.insurance.settings import Settings, from_environment
from shared.accounts_client import AccountsClient
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.problems import install_error_statuses
from shared.runtime import Runtime, every
from shared.web import build_app, serve


def context(settings: Settings, clock: Clock) -> handlers.Context:
    """The claim thresholds, the sagas' timeouts and the clock, from the settings."""
    knobs = settings.insurance
    return handlers.Context(
        clock=clock,
        thresholds=domain.Thresholds(
            auto_approve_below_minor=knobs.auto_approve_below_minor,
            four_eyes_from_minor=knobs.four_eyes_from_minor,
        ),
        step_timeout=timedelta(seconds=knobs.step_timeout_s),
        max_attempts=knobs.max_attempts,
    )


def create_app(settings: Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or from_environment()
    ctx = context(settings, overrides.clock or Clock())

    async def on_start(runtime: Runtime) -> None:
        async with runtime.unit_of_work() as uow:
            await handlers.seed_products(ctx, uow)

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
    runtime.background.append(
        every(settings.insurance.sweep_every_s, "saga timeout sweep", lambda: _sweep(runtime, ctx))
    )
    directory = AccountsClient(
        settings.urls.accounts,
        lambda: runtime.tokens.service_token("insurance"),
        transport=overrides.transports.get("accounts"),
    )
    runtime.on_stop("accounts client", directory.close)
    app = build_app(
        runtime,
        title="Sandbank insurance",
        description="Insurance products, quotes, policies and claims; premiums and payouts move "
        "only through `accounts.commands`.",
        routers=api.routers,
    )
    install_error_statuses(app, api.ERROR_STATUSES)
    app.state.ctx = ctx
    app.state.directory = directory
    return app


async def _sweep(runtime: Runtime, ctx: handlers.Context) -> None:
    """Re-send saga steps whose timeout passed (a cheap read first: usually none are)."""
    async with runtime.db.read() as session:
        due = await handlers.any_due(ctx, session)
    if due:
        async with runtime.unit_of_work() as uow:
            await handlers.retry_due_sagas(ctx, uow)


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
