"""securities: a simulated A-share market, quotes, orders, fills, positions and
bank-securities transfers. Cash moves only through `accounts.commands`."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from services.securities import api, domain, handlers, jobs, store
from services.securities.consumer import TOPICS, consumers
from services.securities.handlers import Context
from services.securities.settings import Settings, from_environment
from shared.accounts_client import accounts_client
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.runtime import Runtime
from shared.saga.store import SagaTable, sweep_sagas
from shared.web import build_app, serve


def create_app(settings: Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or from_environment()
    ctx = Context(settings=settings.securities, clock=overrides.clock or Clock())
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=TOPICS,
        consumers=consumers(ctx),
        clock=ctx.clock,
        group_suffix=overrides.group_suffix,
        on_start=lambda runtime: jobs.restore_history(ctx, runtime),
    )
    # POST /internal/reset empties the tables; the in-memory market goes back to its seed.
    runtime.on_reset.append(ctx.reset_market)
    runtime.background += jobs.background(ctx, runtime)
    if ctx.settings.history_flush_s > 0:
        # A clean stop (a restart, `make run` ending) keeps the history up to the last tick.
        runtime.on_stop("saving the market history", lambda: jobs.save_history(ctx, runtime))
    sweeper = sweep_sagas(
        runtime,
        [
            # A buy order holds its cash at accounts; a sell order and a transfer hold nothing.
            SagaTable(
                store.Order,
                partial(handlers.orders_overdue, ctx),
                holds=handlers.OrderHolds(handlers.HOLD_PREFIX, when=lambda order: order.side == domain.Side.BUY),
            ),
            SagaTable(store.BankTransfer, partial(handlers.transfers_overdue, ctx)),
        ],
        every_s=ctx.settings.sweep_interval_s,
    )
    accounts = accounts_client(runtime, overrides.transports.get("accounts"))
    app = build_app(
        runtime,
        title="Sandbank securities",
        description="A simulated A-share market (quotes, a live quote stream, price alerts), orders, fills, "
        "positions and bank-securities transfers. Cash moves only through `accounts.commands`.",
        routers=[api.router],
        error_statuses=api.ERROR_STATUSES,
    )
    app.state.ctx = ctx
    app.state.accounts = accounts
    app.state.sweeper = sweeper
    return app


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
