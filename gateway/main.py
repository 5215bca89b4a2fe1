"""The gateway: the mobile client's single entry point."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import admin_api, api, insurance_api, payments_api, sandbox_api, securities_api, store
from gateway.consumer import consumers
from gateway.idempotency import Idempotency
from gateway.sessions import Sessions
from gateway.upstream import Upstreams
from shared.clock import Clock
from shared.events.topics import ACCOUNTS_COMMANDS
from shared.service import Runtime, build_app, serve
from shared.settings import Settings, service_settings

DESCRIPTION = """
Sandbank's public API for mobile clients: register and log in, open accounts, read
balances and statements, fund accounts in the sandbox, and (operators) check the ledger.

* Errors are RFC 9457 problem+json with a stable `type`.
* Every response carries `X-Request-ID` and `X-Correlation-ID`.
* Money is a decimal string (`"100.00"`) with a `currency`; amounts also come as
  integer `*_minor` fields (fen).
* POSTs that move money take an `Idempotency-Key` header.
"""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or service_settings("gateway")
    clock = clock or Clock()
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        tables=store.messaging,
        topics=[ACCOUNTS_COMMANDS],
        consumers=consumers(),
        clock=clock,
    )
    sessions = Sessions(runtime.db, runtime.tokens, settings.auth, clock)
    idempotency = Idempotency(runtime.db, clock)

    async def on_start(_runtime: Runtime) -> None:
        if settings.sandbox:
            await sessions.seed_demo_users()
        await idempotency.purge_expired()

    runtime.on_start = on_start
    runtime.background.append(idempotency.flush_answers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.upstreams = Upstreams(settings.urls)
        try:
            yield
        finally:
            await app.state.upstreams.close()

    app = build_app(
        runtime,
        title="Sandbank gateway",
        description=DESCRIPTION,
        routers=[
            *api.routers,
            payments_api.router,
            securities_api.router,
            insurance_api.router,
            sandbox_api.router,
            admin_api.router,
        ],
        extra_lifespan=lifespan,
    )
    app.state.clock = clock
    app.state.sessions = sessions
    app.state.idempotency = idempotency
    app.state.id_namespace = uuid.UUID(bytes=hashlib.sha256(settings.auth.jwt_secret.encode()).digest()[:16])
    app.state.service_token = lambda: runtime.tokens.service_token("gateway")
    return app


def main() -> None:
    serve(create_app, service_settings("gateway"))


if __name__ == "__main__":
    main()
