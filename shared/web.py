"""The FastAPI app around a process's runtime: problem+json errors, request ids, body
limits, security headers (shared/observability.py), /healthz, /readyz, /metrics and the /internal routes; and the
server that runs it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, params
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from shared import bodies
from shared.errors import DomainError
from shared.internal import (
    INTERNAL_PREFIX,
    audit_router,
    clock_router,
    dead_letter_router,
    internal_caller,
    operator_or_service,
    saga_router,
    sandbox_router,
    trace_router,
)
from shared.keys import MissingKeys
from shared.lean import LeanRoutes, NotLean
from shared.metrics import CONTENT_TYPE
from shared.observability import BodySizeLimitMiddleware, RequestContextMiddleware
from shared.problems import (
    PROBLEM,
    PROBLEM_JSON,
    ProblemDetails,
    documented,
    documents,
    install_error_statuses,
    install_problem_handlers,
    malformed_json,
    unsupported_media_type,
)
from shared.route_index import RouteIndex
from shared.runtime import Runtime
from shared.settings import Settings
from shared.tracing import ServerSpans

log = logging.getLogger(__name__)

S = TypeVar("S", bound=Settings)

VERSION = "0.1.0"


HEALTHZ_EXAMPLE: dict[str, Any] = {
    "content": {"application/json": {"example": {"status": "ok", "service": "gateway", "version": VERSION}}}
}
_CHECKS = {
    "database": True,
    "broker": True,
    "kafka_producer": True,
    "outbox_relay": True,
    "consumers": True,
    "started": True,
}
READYZ_EXAMPLE: dict[str, Any] = {
    "content": {"application/json": {"example": {"status": "ready", "service": "gateway", "checks": _CHECKS}}}
}
NOT_READY_EXAMPLE: dict[str, Any] = {
    "description": "Not ready: a check failed",
    "content": {
        "application/json": {
            "example": {
                "status": "not-ready",
                "service": "gateway",
                "checks": {**_CHECKS, "broker": False},
                "problems": {"broker": "broker at 127.0.0.1:9092 unreachable for 4s: KafkaConnectionError"},
            }
        }
    },
}
METRICS_EXAMPLE: dict[str, Any] = {
    "content": {
        "text/plain": {
            "example": "# HELP sandbank_outbox_backlog Outbox rows not yet sent\n"
            "# TYPE sandbank_outbox_backlog gauge\n"
            'sandbank_outbox_backlog{service="gateway"} 0.0\n'
        }
    }
}


def _operation_id(route: APIRoute) -> str:
    return route.name


def health_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process is up", responses={200: HEALTHZ_EXAMPLE})
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.service, "version": VERSION}

    @router.get(
        "/readyz",
        summary="Readiness: the database, the broker and the background loops are up",
        responses={200: READYZ_EXAMPLE, 503: NOT_READY_EXAMPLE},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not-ready", "service": runtime.service}
        body["checks"] = checks
        if runtime.broker.problem is not None:
            body["problems"] = {"broker": runtime.broker.problem}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics (operators and services)",
        response_class=PlainTextResponse,
        responses={200: METRICS_EXAMPLE, 401: PROBLEM, 403: PROBLEM},
        dependencies=[Depends(operator_or_service)],
    )
    async def metrics() -> Response:
        return Response(await runtime.metrics.render(), media_type=CONTENT_TYPE)

    return router


def build_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    error_statuses: Mapping[type[DomainError], int] | None = None,
    problems: Mapping[int, str] | None = None,
    extra_lifespan: Callable[[FastAPI], Any] | None = None,
    body_limits: Mapping[str, int] | None = None,
    lean: Iterable[str] = (),
) -> FastAPI:
    """The process's app around its runtime: problem+json errors (`error_statuses` is the
    API's one table from domain errors to HTTP statuses), request ids, body limits, the
    health and /internal routes, then the service's own `routers`. `problems`: answers
    every public route may give (status: why) beyond what its own rules tell. `body_limits`:
    the routes (path templates) that take more than the settings' body limit, as files.
    `lean`: the names of hot JSON routes whose plain requests skip FastAPI's per-request
    machinery (shared/lean.py); they stay FastAPI routes for everything else."""

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
        # Each operation's id is its route's name (`create_transfer`), not FastAPI's default
        # of name, path and method: a generated client's methods read as the API does.
        generate_unique_id_function=_operation_id,
        # The process's own spans and metrics are ServerSpans' (shared/tracing.py). Off, FastAPI's
        # native telemetry is not asked on every request whether OpenTelemetry is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # A path with a trailing slash is not found, as any unknown path: Starlette's redirect
        # to the path without it built its Location from the request's Host header (a forged
        # Host came back in it) and answered before authentication; a 307 makes a client
        # send the body (a payment) again to wherever it points.
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    app.state.tokens = runtime.tokens
    app.state.settings = runtime.settings
    install_problem_handlers(app)
    install_error_statuses(app, error_statuses or {})
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=runtime.settings.http.max_body_bytes, routes=body_limits or {}
    )
    # Request ids, the log line and the security headers of every answer.
    app.add_middleware(RequestContextMiddleware)
    # Outermost: each request's latency histogram and, with tracing on, its server span
    # continuing the caller's traceparent, in one wrapper.
    app.add_middleware(ServerSpans, tracing=runtime.tracing, metrics=runtime.metrics)
    json_body = JsonBodyRule()
    for router in (
        health_router(runtime),
        clock_router(runtime),
        sandbox_router(runtime),
        dead_letter_router(runtime),
        saga_router(runtime),
        trace_router(runtime),
        audit_router(runtime),
        *routers,
    ):
        # Only on routers with an /internal route: the rule costs the others nothing.
        contexts = list(iter_route_contexts(router.routes))
        guard = [Depends(internal_caller)] if any(map(_internal, contexts)) else []
        # Only on routers with a JSON body route: the rule costs the other routers nothing.
        json_body.routes.update(id(c.original_route) for c in contexts if _takes_json(c))
        guard += [Depends(json_body.check)] if any(map(_takes_json, contexts)) else []
        app.include_router(router, dependencies=guard or None)
    answers = Answers(everywhere=dict(problems or {}), domain=_domain_problems(error_statuses or {}))
    app.openapi = _public_openapi(app, answers)  # type: ignore[method-assign]
    RouteIndex.install(app.router)
    if lean:
        try:
            LeanRoutes.install(app, lean)
        except NotLean as why:
            # The routes stay FastAPI's: slower, the same answers (a test fails on it in CI).
            log.warning("the lean path is off for %s: %s", ", ".join(lean), why)
    return app


def _internal(route: Any) -> bool:
    return str(getattr(route, "path", "")).startswith(INTERNAL_PREFIX)


def _takes_json(context: RouteContext) -> bool:
    """Whether a route reads a JSON body (a model, not a form or a file)."""
    dependant: Dependant | None = getattr(context, "dependant", None)
    found = [p for d in (dependant, *_dependencies(dependant)) for p in d.body_params] if dependant else []
    return bool(found) and not any(isinstance(p.field_info, params.Form) for p in found)


class JsonBodyRule:
    """How a route with a JSON body reads it, beyond FastAPI's parsing: sent as JSON (415
    `unsupported-media-type` otherwise, where FastAPI would validate the bytes and answer
    422), in UTF-8 with each object's names unique (400 `malformed-json`, shared/bodies.py).
    A dependency of the routers that have such routes, solved before the route's own
    (after only the /internal guard), as a body FastAPI could not parse is refused before
    them; a route of such a router without a JSON body passes at once. The lean path reads
    its bodies with shared/bodies.py itself and marks them (`bodies.CHECKED`)."""

    def __init__(self) -> None:
        self.routes: set[int] = set()  # ids of the original routes (an APIRoute hashes not)

    async def check(self, request: Request) -> None:
        scope = request.scope
        if bodies.CHECKED in scope or id(scope.get("route")) not in self.routes:
            return
        body = await request.body()  # as FastAPI read it, kept by the request
        if not body:
            return
        content_type = request.headers.get("content-type")
        if not bodies.is_json(content_type):
            raise unsupported_media_type(content_type)
        try:
            bodies.check_parsed(body, await request.json())  # as FastAPI parsed it, kept too
        except bodies.MalformedJson as exc:
            raise malformed_json(exc.detail) from None


def _public_openapi(app: FastAPI, answers: Answers) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI document without its /internal routes, which are for the gateway
    and operators, not for clients; with every answer a route can give (`Answers`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = [r for r in iter_route_contexts(app.routes) if not _internal(r)]
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                terms_of_service=app.terms_of_service,
                contact=app.contact,
                license_info=app.license_info,
                routes=routes,
                webhooks=app.webhooks.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                separate_input_output_schemas=app.separate_input_output_schemas,
                external_docs=app.openapi_external_docs,
            )
            answers.document(document, routes)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


# --- what the OpenAPI document says a route answers --------------------------------------------

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
# Descriptions FastAPI or a bare `PROBLEM` gives, which the reasons found replace.
_GENERIC = frozenset({"", "Validation Error", "Problem details (RFC 9457)"})


def _domain_problems(statuses: Mapping[type[DomainError], int]) -> dict[int, str]:
    """What a use case may answer: each status of the API's table with the errors mapped to
    it, and 422 for any other domain error."""
    names: dict[int, list[str]] = {422: []}
    for error, status in statuses.items():
        names.setdefault(status, []).append(error.__name__)
    return {
        status: f"a rule refused the request ({', '.join(sorted(found))})" if found else "a rule refused the request"
        for status, found in sorted(names.items())
    }


def _dependencies(dependant: Dependant) -> Iterable[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


@dataclass(frozen=True)
class Answers:
    """Every problem a route can answer, derived once from what it declares: its
    dependencies' own (`shared.problems.documents`: no token 401, a role 403, an
    Idempotency-Key 400 and its header, a service not answering 503), a path parameter
    404, a cursor 400, a body 400 (not JSON) and 413, any parameter 422, a use case
    (a write) the API's domain errors, and what every route of the app answers
    (`everywhere`: the gateway's rate limit). Each problem is problem+json (`Problem`)."""

    everywhere: Mapping[int, str]
    domain: Mapping[int, str]

    def document(self, document: dict[str, Any], routes: Iterable[RouteContext]) -> None:
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for replaced in ("HTTPValidationError", "ValidationError"):
            schemas.pop(replaced, None)
        problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        for route in routes:
            dependant: Dependant | None = getattr(route, "dependant", None)
            for method in sorted(route.methods or ()):
                operation = document["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None or dependant is None:
                    continue
                # Probes answer only what they declare: /readyz's 503 is its checks, for the prober.
                probe = "health" in operation.get("tags", ())
                if not probe:
                    self._derive(operation, dependant, method)
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45" and (not probe or PROBLEM_JSON in response.get("content", {})):
                        _as_problem(int(status), response)

    def _derive(self, operation: dict[str, Any], dependant: Dependant, method: str) -> None:
        reasons: dict[int, list[str]] = {}

        def add(status: int, why: str) -> None:
            reasons.setdefault(status, []).append(why)

        parameters = operation.setdefault("parameters", [])
        for sub in _dependencies(dependant):
            found = documented(sub.call)
            if found is None:
                continue
            for status, why in found.problems.items():
                add(status, why)
            for parameter in found.parameters:
                if all((p["in"], p["name"]) != (parameter["in"], parameter["name"]) for p in parameters):
                    parameters.append(parameter)
        if not parameters:
            del operation["parameters"]
        every = [dependant, *_dependencies(dependant)]
        path = [p.alias for d in every for p in d.path_params]
        query = [p.alias for d in every for p in d.query_params]
        body = [p for d in every for p in d.body_params]
        if path:
            add(404, "no such " + " or ".join(dict.fromkeys(path)))
        if "cursor" in query:
            add(400, "the cursor is not one this API issued")
        if body:
            add(400, "the body is not valid JSON")
            add(413, "the body is too large")
            if not any(isinstance(p.field_info, params.Form) for p in body):
                add(415, "the body is not sent as application/json")
        if path or query or body or any(d.header_params for d in every):
            add(422, "the request does not match its schema (`errors` names the fields)")
        if method in _WRITES:
            for status, why in self.domain.items():
                add(status, why)
        for status, why in self.everywhere.items():
            add(status, why)
        responses = operation.setdefault("responses", {})
        for status, whys in reasons.items():
            response = responses.setdefault(str(status), {})
            if response.get("description", "") in _GENERIC:
                text = "; ".join(dict.fromkeys(whys))
                response["description"] = text[0].upper() + text[1:]
        operation["responses"] = dict(sorted(responses.items()))


def _as_problem(status: int, response: dict[str, Any]) -> None:
    """A documented error answer as it is sent: problem+json with the `Problem` schema
    (FastAPI documents validation errors as its own JSON shape), and the Retry-After
    that every 429 and 503 carries."""
    content = response.get("content") or {}
    media = content.get(PROBLEM_JSON) or content.get("application/json") or {}
    response["content"] = {PROBLEM_JSON: {**{k: v for k, v in media.items() if k != "schema"}, "schema": PROBLEM_REF}}
    response.setdefault("description", "Problem details (RFC 9457)")
    if status in (429, 503):
        response["headers"] = {**response.get("headers", {}), **_RETRY_AFTER}


def serve(app_factory: Callable[[S], FastAPI], settings: S) -> None:
    """Run one service under uvicorn (uvloop, httptools) on its configured port."""
    import uvicorn

    from shared import server
    from shared.observability import configure_logging

    configure_logging(settings.service, settings.log_level, settings.log_json)
    try:
        app = app_factory(settings)
    except MissingKeys as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    app.state.runtime.exit_when_stuck = True
    config = uvicorn.Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        loop="uvloop",
        http=server.HttpProtocol,  # httptools, its refusals in problem+json
        # No route of ours is a WebSocket: uvicorn's default would import a WebSocket
        # library into every process at start (a sixtieth of a second of each).
        ws="none",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        server_header=False,  # no "server: uvicorn" telling what to attack
        # The client is the socket's peer (gateway/README.md): uvicorn would otherwise take
        # X-Forwarded-For from any local peer, letting one pick the address its rate limits
        # count against, and read the headers of every request to do so.
        proxy_headers=False,
        # Longer than the pooled clients' keep-alive (httpx: 5 s), so a client never reuses
        # a connection the server is closing at that very moment.
        timeout_keep_alive=65,
    )
    server.run(config)


# --- what every service's routes depend on -----------------------------------------------------


def from_state(name: str, *, problems: Mapping[int, str] | None = None) -> Any:
    """A dependency on the collaborator `create_app` keeps as `app.state.<name>`: a
    service's `deps.py` names it once, with its type (`Annotated[Context, from_state("ctx")]`)
    and the problems a route that uses it may answer (another service's client: 503)."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"app_state_{name}"
    return Depends(documents(problems)(dependency) if problems else dependency)


RuntimeDep = Annotated[Runtime, from_state("runtime")]
