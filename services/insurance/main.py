"""insurance: products, quotes, policies and claims, paid through accounts over Kafka."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from services.insurance import api, domain, handlers, store
from services.insurance.consumer import TOPICS, consumers
from services.insurance.settings import Settings, from_environment
from shared.accounts_client import accounts_client
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.runtime import Runtime, every
from shared.saga.model import Timeouts
from shared.saga.store import Holds, SagaTable, sweep_sagas
from shared.web import build_app, serve


def context(settings: Settings, clock: Clock) -> handlers.Context:
    """The claim thresholds, the sagas' rules and the clock, from the settings."""
    knobs = settings.insurance
    timeouts = Timeouts(step=timedelta(seconds=knobs.step_timeout_s), max_attempts=knobs.max_attempts)
    return handlers.Context(
        clock=clock,
        thresholds=domain.Thresholds(
            auto_approve_below_minor=knobs.auto_approve_below_minor,
            four_eyes_from_minor=knobs.four_eyes_from_minor,
        ),
        fraud=domain.FraudThresholds(
            early_claim_days=knobs.fraud_early_claim_days,
            frequent_claims=knobs.fraud_frequent_claims,
            frequent_claims_days=knobs.fraud_frequent_claims_days,
            near_sum_insured_pct=knobs.fraud_near_sum_insured_pct,
        ),
        premiums=domain.PremiumSaga(timeouts),
        credits=domain.CreditSaga(timeouts),
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
    # A premium holds the customer's money under the saga's id; payouts and refunds hold nothing.
    premiums = Holds(when=lambda saga: saga.kind == domain.SagaKind.PREMIUM)
    sweeper = sweep_sagas(
        runtime,
        [SagaTable(store.Saga, partial(handlers.sagas_overdue, ctx), holds=premiums)],
        every_s=settings.insurance.sweep_every_s,
    )

    async def lifecycle() -> None:
        if await handlers.policies_to_move(ctx, runtime.db):
            async with runtime.unit_of_work() as uow:
                await handlers.move_policies(ctx, uow)

    runtime.background.append(every(settings.insurance.lifecycle_every_s, "policy lifecycle", lifecycle))
    accounts = accounts_client(runtime, overrides.transports.get("accounts"))
    app = build_app(
        runtime,
        title="Sandbank insurance",
        description="Insurance products, quotes, policies and claims; premiums and payouts move "
        "only through `accounts.commands`.",
        routers=api.routers,
        error_statuses=api.ERROR_STATUSES,
        body_limits=api.BODY_LIMITS,
    )
    app.state.ctx = ctx
    app.state.accounts = accounts
    app.state.sweeper = sweeper
    return app


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
