"""payments: transfers, bills, merchant QR, top-ups and sandbox deposits as sagas over
accounts.commands."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from services.payments import api, api_payees, domain, handlers, schedules, store
from services.payments.consumer import TOPICS, consumers
from services.payments.handlers import Context, Starter
from services.payments.settings import Settings, from_environment
from shared.accounts_client import accounts_client
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.runtime import Runtime, every
from shared.saga.model import Timeouts
from shared.saga.store import Holds, SagaTable, sweep_sagas
from shared.web import build_app, serve


def context(settings: Settings, clock: Clock) -> Context:
    """The sagas' rules and clock, from the settings."""
    knobs = settings.payments
    return Context(
        clock=clock,
        saga=domain.PaymentSaga(
            policy=domain.RiskPolicy(
                velocity_max=knobs.velocity_max,
                velocity_window=timedelta(seconds=knobs.velocity_window_s),
                new_payee_threshold_minor=knobs.new_payee_threshold_minor,
            ),
            timeouts=Timeouts(step=timedelta(seconds=knobs.step_timeout_s), max_attempts=knobs.max_reserve_attempts),
        ),
        deposits=domain.DepositSaga(timeouts=Timeouts(step=timedelta(seconds=knobs.step_timeout_s))),
    )


def create_app(settings: Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or from_environment()
    ctx = context(settings, overrides.clock or Clock())
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx),
        clock=ctx.clock,
        group_suffix=overrides.group_suffix,
    )
    sweeper = sweep_sagas(
        runtime,
        [
            # A payment's hold at accounts is the payment's id; a deposit holds nothing.
            SagaTable(store.Payment, partial(handlers.payments_overdue, ctx), holds=Holds()),
            SagaTable(store.Deposit, partial(handlers.deposits_overdue, ctx)),
        ],
    )
    # Closers run newest first: payments stop being started, then the client closes.
    accounts = accounts_client(runtime, overrides.transports.get("accounts"))
    starter = Starter(ctx, runtime.unit_of_work, spawn=runtime.own)
    runtime.on_stop("payment starter", starter.close)
    # Half a second on the sandbox clock: a test that moves the clock sees the runs at once.
    runner = schedules.ScheduleRunner(ctx, runtime, starter, accounts)
    runtime.background.append(every(0.5, "scheduled transfers", runner.tick))
    app = build_app(
        runtime,
        title="Sandbank payments",
        description="Transfers, bills, merchant QR, top-ups and sandbox deposits. Each payment is a saga over "
        "`accounts.commands`: hold the funds, decide risk, capture into the payee or release.",
        # Before api's routes, so /v1/payments/schedules and /v1/payments/limits are not
        # read as a payment's id.
        routers=[*schedules.routers, *api_payees.routers, *api.routers],
        error_statuses=api.ERROR_STATUSES,
        lean=api.LEAN,
    )
    app.state.ctx = ctx
    app.state.starter = starter
    app.state.accounts = accounts
    app.state.sweeper = sweeper
    app.state.schedules = runner
    app.state.lookups = domain.LookupAllowance(settings.payments.lookup_burst, settings.payments.lookup_per_minute)
    return app


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
