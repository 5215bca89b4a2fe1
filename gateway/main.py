"""The gateway: the mobile client's single entry point. `create_app` assembles the feature
packages' routers, the pass-through table and the error answers on one bootstrap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from gateway import errors
from gateway.bootstrap import Overrides, bootstrap
from gateway.console import api as console
from gateway.home import api as home
from gateway.identity import api as identity
from gateway.identity import kyc
from gateway.notifications import api as notifications
from gateway.notifications import devices
from gateway.ops import api as ops
from gateway.ops import audit as ops_audit
from gateway.ops import compliance as ops_compliance
from gateway.ops import freezes as ops_freezes
from gateway.ratelimit import IpRateLimitMiddleware
from gateway.routing import errors as routing_errors
from gateway.routing import routes as routing
from gateway.routing.table import DEPOSIT_ROUTES, PAYMENTS_ROUTES, ROUTES
from gateway.sandbox import api as sandbox
from gateway.settings import Settings, from_environment
from gateway.webhooks import api as webhooks
from shared.observability import RequestContextMiddleware
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
* Webhooks (`/v1/webhooks`) POST the same events to your backend, signed with
  HMAC-SHA256 (`Sandbank-Signature`), retried with backoff and replayable.
"""

ROUTERS = [
    *identity.routers,
    kyc.router,
    *routing.build(kyc.ROUTES),
    home.router,
    notifications.router,
    devices.router,
    *routing.build(ROUTES),
    *routing.build(DEPOSIT_ROUTES),
    sandbox.clock_router,
    sandbox.router,
    sandbox.magic_router,
    *routing.build(ops.ROUTES),
    ops.router,
    ops_compliance.router,
    ops_audit.router,
    ops_freezes.router,
    webhooks.router,
    console.router,
    console.page_router,
]
ERRORS = {**identity.ERRORS, **routing_errors.ERRORS, **webhooks.ERRORS}
# The rows each payment's request crosses: their plain requests take shared/lean.py's path.
LEAN = tuple(row.name for row in PAYMENTS_ROUTES if row.step_up)
# IpRateLimitMiddleware stands before every public route.
RATE_LIMITED = {429: "too many requests from this address"}


def create_app(settings: Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or from_environment()
    gateway = bootstrap(settings, overrides)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.upstreams.start()  # closed by the runtime's stop
        yield

    app = build_app(
        gateway.runtime,
        title="Sandbank gateway",
        description=DESCRIPTION,
        routers=ROUTERS,
        problems=RATE_LIMITED,
        extra_lifespan=lifespan,
        body_limits=routing.body_limits((*ROUTES, *DEPOSIT_ROUTES)),
        lean=LEAN,
    )
    app.state.gateway = gateway
    app.state.console = console.install(gateway)
    errors.install(app, ERRORS)
    # Inside the request-id middleware (so a 429 carries the ids), before everything else.
    outer = next(i for i, m in enumerate(app.user_middleware) if getattr(m, "cls", None) is RequestContextMiddleware)
    app.user_middleware.insert(outer + 1, Middleware(IpRateLimitMiddleware, limiter=gateway.ip_limits))
    # Inside the request-id middleware too, so an entry carries the request's ids.
    app.user_middleware.insert(
        outer + 1, Middleware(ops_audit.AuditMiddleware, runtime=gateway.runtime, trail=gateway.audit)
    )
    return app


def main() -> None:
    serve(create_app, from_environment())


if __name__ == "__main__":
    main()
