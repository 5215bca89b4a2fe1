"""The gateway: the mobile client's single entry point."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from gateway import (
    admin_api,
    api,
    home,
    insurance_api,
    magic_api,
    notifications_api,
    payments_api,
    sandbox_api,
    securities_api,
    sessions_api,
    stepup,
    store,
)
from gateway.consumer import Notifier, consumers
from gateway.hub import NotificationHub
from gateway.idempotency import Idempotency
from gateway.ratelimit import IpRateLimitMiddleware, RateLimiter
from gateway.sessions import Sessions
from gateway.upstream import Upstreams
from shared.clock import Clock
from shared.events.topics import ACCOUNTS_COMMANDS
from shared.observability import RequestContextMiddleware
from shared.runtime import Runtime
from shared.settings import Settings, service_settings
from shared.web import build_app, serve

DESCRIPTION = """
Sandbank's public API for mobile clients: register and log in, open accounts, read
balances and statements, fund accounts in the sandbox, and (operators) check the ledger.

* Errors are RFC 9457 problem+json with a stable `type`.
* Every response carries `X-Request-ID` and `X-Correlation-ID`.
* Money is a decimal string (`"100.00"`) with a `currency`; amounts also come as
  integer `*_minor` fields (fen).
* POSTs that move money take an `Idempotency-Key` header; above a step-up amount they
  also need a one-time code (401 `step-up-required`, see `POST /v1/auth/challenges/{id}`).
* `GET /v1/home` is the home screen in one call; `GET /v1/notifications/stream` pushes
  notifications live (Server-Sent Events, resumable with `Last-Event-ID`).
* Requests are rate limited per client IP and per customer (429 with `Retry-After`).
"""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or service_settings("gateway", Settings)
    clock = clock or Clock()
    hub = NotificationHub()
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        topics=[ACCOUNTS_COMMANDS],
        consumers=consumers(settings.service, Notifier(hub, clock)),
        clock=clock,
    )
    sessions = Sessions(runtime.db, runtime.tokens, settings.auth, clock)
    sessions.on_revoke.append(hub.wake_session)
    idempotency = Idempotency(runtime.db, clock)
    limits = settings.gateway
    ip_limits = RateLimiter(limits.rate_ip_per_s, limits.rate_ip_burst)
    customer_limits = RateLimiter(limits.rate_customer_per_s, limits.rate_customer_burst)

    async def on_start(_runtime: Runtime) -> None:
        if settings.sandbox:
            await sessions.seed_demo_users()
        await idempotency.purge_expired()

    async def on_reset() -> None:
        sessions.forget_cached()
        idempotency.forget()
        hub.wake_everyone()  # streams re-check their session (gone) and end

    runtime.on_start = on_start
    runtime.on_reset.append(on_reset)
    runtime.background += [idempotency.flush_answers, sessions.write_activity]

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
            stepup.router,
            sessions_api.router,
            home.router,
            notifications_api.router,
            payments_api.router,
            securities_api.router,
            insurance_api.router,
            sandbox_api.router,
            magic_api.router,
            admin_api.router,
        ],
        extra_lifespan=lifespan,
    )
    # Inside the request-id middleware (so a 429 carries the ids), before everything else.
    outer = next(i for i, m in enumerate(app.user_middleware) if m.cls is RequestContextMiddleware)
    app.user_middleware.insert(outer + 1, Middleware(IpRateLimitMiddleware, limiter=ip_limits))
    app.state.clock = clock
    app.state.sessions = sessions
    app.state.idempotency = idempotency
    app.state.hub = hub
    app.state.challenges = stepup.Challenges(runtime, hub, settings.auth, clock)
    app.state.ip_limits = ip_limits
    app.state.customer_limits = customer_limits
    app.state.id_namespace = uuid.UUID(bytes=hashlib.sha256(settings.auth.jwt_secret.encode()).digest()[:16])
    app.state.service_token = lambda: runtime.tokens.service_token("gateway")
    return app


def main() -> None:
    serve(create_app, service_settings("gateway", Settings))


if __name__ == "__main__":
    main()
