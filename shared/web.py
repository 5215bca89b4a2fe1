"""The FastAPI app around a process's runtime: problem+json errors, request ids, body
limits, security headers, /healthz, /readyz, /metrics and the /internal routes; and the
server that runs it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import DomainError
from shared.internal import (
    INTERNAL_PREFIX,
    clock_router,
    dead_letter_router,
    internal_caller,
    operator_or_service,
    sandbox_router,
)
from shared.keys import MissingKeys
from shared.metrics import render_metrics
from shared.observability import BodySizeLimitMiddleware, RequestContextMiddleware
from shared.problems import PROBLEM, install_error_statuses, install_problem_handlers
from shared.runtime import Runtime
from shared.settings import Settings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=Settings)

VERSION = "0.1.0"


HEALTHZ_EXAMPLE: dict[str, Any] = {
    "content": {"application/json": {"example": {"status": "ok", "service": "gateway", "version": VERSION}}}
}
_CHECKS = {"database": True, "kafka_producer": True, "outbox_relay": True, "consumers": True, "started": True}
READYZ_EXAMPLE: dict[str, Any] = {
    "content": {"application/json": {"example": {"status": "ready", "service": "gateway", "checks": _CHECKS}}}
}
NOT_READY_EXAMPLE: dict[str, Any] = {
    "description": "Not ready: a check failed",
    "content": {
        "application/json": {
            "example": {"status": "not-ready", "service": "gateway", "checks": {**_CHECKS, "kafka_producer": False}}
        }
    },
}
METRICS_EXAMPLE: dict[str, Any] = {
    "content": {
        "text/plain": {
            "example": 'sandbank_outbox_published_total{service="gateway"} 1289\n'
            'sandbank_outbox_backlog{service="gateway"} 0\n'
        }
    }
}


class SecurityHeadersMiddleware:
    """Headers on every answer, which may carry a customer's data: not to be stored by a
    cache (unless the route says how, as a stream's `no-cache`), sniffed as another type,
    framed by another page, or named in a Referer."""

    NO_STORE = (b"cache-control", b"no-store")
    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(self.NO_STORE)
                headers.extend(self.HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def health_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process is up", responses={200: HEALTHZ_EXAMPLE})
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.service, "version": VERSION}

    @router.get(
        "/readyz",
        summary="Readiness: database, Kafka and background loops are up",
        responses={200: READYZ_EXAMPLE, 503: NOT_READY_EXAMPLE},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "service": runtime.service, "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get(
        "/metrics",
        summary="Prometheus metrics (operators and services)",
        response_class=PlainTextResponse,
        responses={200: METRICS_EXAMPLE, 401: PROBLEM, 403: PROBLEM},
        dependencies=[Depends(operator_or_service)],
    )
    async def metrics() -> str:
        return await render_metrics(runtime)

    return router


def build_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    error_statuses: Mapping[type[DomainError], int] | None = None,
    extra_lifespan: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    """The process's app around its runtime: problem+json errors (`error_statuses` is the
    API's one table from domain errors to HTTP statuses), request ids, body limits, the
    health and /internal routes, then the service's own `routers`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            if extra_lifespan is not None:
                async with extra_lifespan(app):
                    yield
            else:
                yield
        finally:
            await runtime.stop()

    # Production serves no API documents: they map the attack surface for whoever asks.
    documented = runtime.settings.environment != "production"
    app = FastAPI(
        title=title,
        description=description,
        version=VERSION,
        lifespan=lifespan,
        openapi_url="/openapi.json" if documented else None,
        docs_url="/docs" if documented else None,
        redoc_url="/redoc" if documented else None,
    )
    app.state.runtime = runtime
    app.state.tokens = runtime.tokens
    app.state.settings = runtime.settings
    install_problem_handlers(app)
    install_error_statuses(app, error_statuses or {})
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=runtime.settings.http.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    for router in (
        health_router(runtime),
        clock_router(runtime),
        sandbox_router(runtime),
        dead_letter_router(runtime),
        *routers,
    ):
        # Only on routers with an /internal route: the rule costs the others nothing.
        guard = [Depends(internal_caller)] if any(map(_internal, iter_route_contexts(router.routes))) else None
        app.include_router(router, dependencies=guard)
    app.openapi = _public_openapi(app)  # type: ignore[method-assign]
    return app


def _internal(route: Any) -> bool:
    return str(getattr(route, "path", "")).startswith(INTERNAL_PREFIX)


def _public_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI document without its /internal routes, which are for the gateway
    and operators, not for clients."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                terms_of_service=app.terms_of_service,
                contact=app.contact,
                license_info=app.license_info,
                routes=[r for r in iter_route_contexts(app.routes) if not _internal(r)],
                webhooks=app.webhooks.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                separate_input_output_schemas=app.separate_input_output_schemas,
                external_docs=app.openapi_external_docs,
            )
        return app.openapi_schema

    return openapi


def serve(app_factory: Callable[[S], FastAPI], settings: S) -> None:
    """Run one service under uvicorn (uvloop, httptools) on its configured port."""
    import uvicorn

    from shared.observability import configure_logging

    configure_logging(settings.service, settings.log_level, settings.log_json)
    try:
        app = app_factory(settings)
    except MissingKeys as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    app.state.runtime.exit_when_stuck = True
    uvicorn.run(
        app,
        host=settings.http.host,
        port=settings.http.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        server_header=False,  # no "server: uvicorn" telling what to attack
        # Longer than the pooled clients' keep-alive (httpx: 5 s), so a client never reuses
        # a connection the server is closing at that very moment.
        timeout_keep_alive=65,
    )


# --- what every service's routes depend on -----------------------------------------------------


def from_state(name: str) -> Any:
    """A dependency on the collaborator `create_app` keeps as `app.state.<name>`: a
    service's `deps.py` names it once, with its type (`Annotated[Context, from_state("ctx")]`)."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"app_state_{name}"
    return Depends(dependency)


RuntimeDep = Annotated[Runtime, from_state("runtime")]
