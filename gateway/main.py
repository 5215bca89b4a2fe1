"""The gateway: the mobile client's single entry point. `create_app` assembles the feature
packages' routers, the pass-through table and the error answers on one bootstrap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from gateway import errors
from gateway.bootstrap import Overrides, bootstrap
from gateway.home import api as home
from gateway.identity import api as identity
from gateway.notifications import api as notifications
from gateway.ops import api as ops
from gateway.ratelimit import IpRateLimitMiddleware
from gateway.routing import errors as routing_errors
from gateway.routing import routes as routing
from gateway.routing.table import ROUTES
from gateway.sandbox import api as sandbox
from gateway.sandbox import deposits
from shared.observability import RequestContextMiddleware
from shared.service import build_app, serve
from shared.settings import Settings, service_settings

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

ROUTERS = [
    *identity.routers,
    home.router,
    notifications.router,
    routing.build(ROUTES),
    deposits.router,
    sandbox.clock_router,
    sandbox.router,
    sandbox.magic_router,
    routing.build(ops.ROUTES),
    ops.router,
]
ERRORS = {**identity.ERRORS, **routing_errors.ERRORS}
_SCHEMA_REF = "#/components/schemas/"


def create_app(settings: Settings | None = None, *, overrides: Overrides = Overrides()) -> FastAPI:
    settings = settings or service_settings("gateway")
    gateway = bootstrap(settings, overrides)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.upstreams.start()
        try:
            yield
        finally:
            await gateway.upstreams.close()

    app = build_app(
        gateway.runtime, title="Sandbank gateway", description=DESCRIPTION, routers=ROUTERS, extra_lifespan=lifespan
    )
    app.state.gateway = gateway
    errors.install(app, ERRORS)
    _publish_without_internal_routes(app)
    # Inside the request-id middleware (so a 429 carries the ids), before everything else.
    outer = next(i for i, m in enumerate(app.user_middleware) if m.cls is RequestContextMiddleware)
    app.user_middleware.insert(outer + 1, Middleware(IpRateLimitMiddleware, limiter=gateway.ip_limits))
    return app


def _publish_without_internal_routes(app: FastAPI) -> None:
    """The /internal routes every process serves (clock, faults, reset, dead letters: what
    the sandbox controls and operator views call) work on the gateway too, but its OpenAPI
    document is the public API: they and the schemas only they use are left out of it.
    (shared/service.py includes those routers for every process.)"""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _public(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _public(document: dict[str, Any]) -> dict[str, Any]:
    paths = {p: v for p, v in document["paths"].items() if not p.startswith("/internal/")}
    schemas = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    todo: list[Any] = [paths]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SCHEMA_REF) and ref[len(_SCHEMA_REF) :] not in used:
                used.add(ref[len(_SCHEMA_REF) :])
                todo.append(schemas.get(ref[len(_SCHEMA_REF) :]))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    document["paths"] = paths
    if schemas:
        document["components"]["schemas"] = {name: s for name, s in schemas.items() if name in used}
    return document


def main() -> None:
    serve(create_app, service_settings("gateway"))


if __name__ == "__main__":
    main()
