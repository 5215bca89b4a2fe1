"""accounts: customers, accounts and the double-entry ledger."""

from __future__ import annotations

from fastapi import FastAPI

from services.accounts import api, api_outflow, freezes, kyc, store
from services.accounts.compliance import api as compliance_api
from services.accounts.compliance import consumer as compliance_consumer
from services.accounts.compliance.handlers import ERROR_STATUSES as COMPLIANCE_ERRORS
from services.accounts.compliance.handlers import Compliance
from services.accounts.compliance.settings import ComplianceSettings
from services.accounts.consumer import TOPICS, consumers
from services.accounts.handlers import Context, seed
from services.accounts.settings import Settings, from_environment
from shared import settings as shared
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.runtime import Runtime
from shared.web import build_app, serve


def create_app(settings: shared.Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or from_environment()
    ctx = Context(clock=overrides.clock or Clock())
    # AML monitoring: a module of its own (docs/adr/0016), with its own transactions and
    # inbox, on the ledger's consumer group: one member heartbeats for both (ADR 0019). It
    # gathers the facts of `gather_ms` into one transaction: it is on no payment's path.
    aml = settings.compliance if isinstance(settings, Settings) else ComplianceSettings()
    compliance = Compliance(store.compliance, aml.thresholds(), ctx.clock, sandbox=settings.sandbox)
    ledger = consumers(ctx)
    monitoring = compliance_consumer.consumer(compliance, group=ledger[0].name, gather_s=aml.gather_ms / 1000)

    async def on_start(runtime: Runtime) -> None:
        async with runtime.unit_of_work() as uow:
            await seed(ctx, uow, demo=settings.sandbox)

    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=TOPICS,
        consumers=[*ledger, monitoring],
        on_start=on_start,
        clock=ctx.clock,
        group_suffix=overrides.group_suffix,
    )
    app = build_app(
        runtime,
        title="Sandbank accounts",
        description="Customers, accounts and the double-entry ledger. Money moves only "
        "through commands on `accounts.commands`.",
        routers=[api.router, api_outflow.router, freezes.router, kyc.router, compliance_api.router],
        error_statuses=api.ERROR_STATUSES | COMPLIANCE_ERRORS | kyc.ERROR_STATUSES,
    )
    app.state.ctx = ctx
    app.state.compliance = compliance
    return app


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
