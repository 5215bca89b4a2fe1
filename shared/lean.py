"""A lean path for a few hot JSON routes: the plain request runs the route's own endpoint and
dependencies without FastAPI's per-request routing, dependency solving and body handling;
every other request is the FastAPI route's, as before.

A transfer crosses two such routes (the gateway's and payments' `POST /v1/payments/transfers`),
and on each FastAPI's share of the request's CPU was larger than the route's own work: the
match over the routes, the content type parsed as a mail header, the dependencies solved
anew as a tree, the endpoint wrapped in exit stacks and exception wrappers.

`LeanRoutes` is the innermost of the app's middleware (inside the request ids, the body
limit, the spans and metrics, which all still apply) and keeps, for each `(method, path)`
it serves, the FastAPI route that stays registered and documented. A request takes the
lean path only when it is the plain one: a `Content-Type` of exactly `application/json`,
a body that arrives whole, is a JSON object (read by the same `json.loads` as
Starlette's, in UTF-8 with unique names as shared/bodies.py reads every body) and passes
the route's own body model, header parameters that pass their own fields, and no
dependency overrides. Anything else (malformed JSON, a name twice, a validation failure,
an unknown field, another content type, a body over the limit, a client gone)
goes on to the app's exception handlers and router with the body as it came, and the
FastAPI route answers it with the same code as before. On the lean path the endpoint and
its dependencies are the route's own functions, called in FastAPI's order with its
per-request cache; what they raise (no token, a role, a missing Idempotency-Key, a rule
refusing) is answered by Starlette's ExceptionMiddleware with the app's own handlers, as
the route's was.

A route qualifies only in a shape this reads exactly (`LeanRoute.of` says why not): a
fixed path, one JSON body model, dependencies that are plain async functions of the
request and headers, an endpoint that answers a `Response` itself.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _get_param_aliases, _get_param_model, field_annotation_is_sequence
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import Json
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import bodies

JSON = b"application/json"

log = logging.getLogger(__name__)


class NotLean(ValueError):
    """A route named for the lean path is not in a shape it reads exactly."""


class LeanRoute:
    """One route's lean path: its body model, its dependency tree as FastAPI built it for
    this inclusion, and its endpoint."""

    def __init__(self, context: RouteContext, route: APIRoute, dependant: Dependant, method: str, path: str) -> None:
        self.route = route
        self.method, self.path = method, path
        self.endpoint = route.endpoint
        self.dependant = dependant
        self.body_field: Any = getattr(context, "body_field", None)
        self.body_name = dependant.body_params[0].name
        # Every header parameter of the tree, with the names FastAPI reads it by: checked
        # before any dependency runs.
        self.headers = [
            (id(node), field, [alias for _, alias in _get_param_aliases(field)])
            for node in _tree(dependant)
            for field in node.header_params
        ]

    @classmethod
    def of(cls, context: RouteContext) -> LeanRoute:
        route = context.original_route
        dependant: Dependant | None = getattr(context, "dependant", None)
        name = getattr(route, "name", context.path)
        if not isinstance(route, APIRoute) or dependant is None:
            raise NotLean(f"{name}: not a FastAPI route")
        path, methods = context.path_format, sorted(context.methods or ())
        if path is None or "{" in path or len(methods) != 1:
            raise NotLean(f"{name}: a lean route has a fixed path and one method")
        body = dependant.body_params
        if len(body) != 1 or type(body[0].field_info) is not params.Body or body[0].field_info.embed:
            raise NotLean(f"{name}: a lean route takes one JSON body model")
        if getattr(context, "body_field", None) is None:
            raise NotLean(f"{name}: no body field")
        for node in _tree(dependant):
            for why in [_unread(node, top=node is dependant), *map(_unread_header, node.header_params)]:
                if why:
                    raise NotLean(f"{name}: {why}")
        return cls(context, route, dependant, methods[0], path)

    async def __call__(self, request: Request, body: dict[str, Any]) -> Response | None:
        """The route's answer to a plain request, or None (nothing run) when the FastAPI
        route is to answer it: the body model or a header parameter refuses it."""
        model, errors = self.body_field.validate(body, {}, loc=("body",))
        if errors:
            return None
        headers: dict[int, dict[str, Any]] = {}
        for node, field, aliases in self.headers:
            # As fastapi.dependencies.utils.request_params_to_args reads a plain header.
            alias = next((a for a in aliases if a in request.headers), aliases[0])
            sent = request.headers.get(alias)
            if sent is None and not field.field_info.is_required() and not field.field_info.validate_default:
                value = copy.deepcopy(field.default)
            else:
                value, errors = field.validate(sent, {}, loc=("header", alias))
                if errors or sent is None:
                    return None
            headers.setdefault(node, {})[field.name] = value
        values = await _solve(self.dependant, request, headers, {})
        values[self.body_name] = model
        response = await self.endpoint(**values)
        if not isinstance(response, Response):
            raise TypeError(f"{self.route.name}: a lean route's endpoint answers a Response")
        return response


def _tree(dependant: Dependant) -> Iterable[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _tree(sub)


def _unread(node: Dependant, *, top: bool) -> str | None:
    """Why the lean path could not solve `node` as FastAPI does (None: it can)."""
    if node.path_params or node.query_params or node.cookie_params or (node.body_params and not top):
        return "a path, query, cookie or nested body parameter"
    if (
        node.websocket_param_name
        or node.http_connection_param_name
        or node.response_param_name
        or node.background_tasks_param_name
        or node.security_scopes_param_name
        or node.own_oauth_scopes
        or node.concurrency is not None
    ):
        return "a parameter other than the request, headers and dependencies"
    if not inspect.iscoroutinefunction(node.call):
        return f"{getattr(node.call, '__name__', node.call)} is not a plain async function"
    return None


def _unread_header(field: Any) -> str | None:
    """Why the lean path could not read the header parameter `field` as FastAPI does."""
    if _get_param_model(field) is not None or field_annotation_is_sequence(field.field_info.annotation):
        return f"header {field.name} is a model or a list"
    if any(type(item) is Json for item in field.field_info.metadata):
        return f"header {field.name} is JSON"
    return None


async def _solve(
    dependant: Dependant, request: Request, headers: dict[int, dict[str, Any]], cache: dict[Any, Any]
) -> dict[str, Any]:
    """`dependant`'s arguments as FastAPI's `solve_dependencies` finds them: each dependency
    in order, depth first, called once a request (its cache)."""
    values: dict[str, Any] = {}
    for sub in dependant.dependencies:
        key = (sub.call, sub.scope)
        if sub.use_cache and key in cache:
            solved = cache[key]
        else:
            solved = await sub.call(**await _solve(sub, request, headers, cache))  # type: ignore[misc]
        if sub.name is not None:
            values[sub.name] = solved
        cache.setdefault(key, solved)
    if dependant.request_param_name is not None:
        values[dependant.request_param_name] = request
    values.update(headers.get(id(dependant), ()))
    return values


class LeanRoutes:
    """The innermost of the app's middleware: the lean routes' plain requests are answered
    here, every other request goes on to the app's exception handlers and router (see the
    module's docstring). What a lean route raises is answered by those same handlers, as
    the route's own wrapper would have had them answer it."""

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], LeanRoute], router: Router) -> None:
        self.app = app
        self.routes = routes
        self.router = router
        # The app's own handlers (the same tables), around a raise of what a lean route raised.
        self.errors = ExceptionMiddleware(_raise_again)
        if not (
            isinstance(app, ExceptionMiddleware)
            and hasattr(app, "_exception_handlers")
            and hasattr(app, "_status_handlers")
        ):
            # Another Starlette than the one this was written against (pyproject pins it):
            # every request goes the FastAPI route's way, slower but the same.
            log.warning("the lean path is off: the app's innermost layer is not the ExceptionMiddleware it reads")
            self.routes = {}
            return
        self.errors.debug = app.debug
        self.errors._exception_handlers = app._exception_handlers
        self.errors._status_handlers = app._status_handlers

    @staticmethod
    def install(app: FastAPI, names: Iterable[str]) -> dict[tuple[str, str], LeanRoute]:
        """Serve the routes `names` (route names, as `create_transfer`) leanly, from the
        innermost of `app`'s middleware as it stands (add it once the rest is added); NotLean
        if one is missing, not in a shape the lean path reads, or not the route FastAPI would
        pick for its method and path."""
        wanted = set(names)
        contexts = list(iter_route_contexts(app.router.routes))
        routes: dict[tuple[str, str], LeanRoute] = {}
        for context in contexts:
            if getattr(context.original_route, "name", None) not in wanted:
                continue
            lean = LeanRoute.of(context)
            _first_match(contexts, context, lean)
            routes[lean.method, lean.path] = lean
            wanted.discard(lean.route.name)
        if wanted:
            raise NotLean(f"no such routes: {', '.join(sorted(wanted))}")
        app.user_middleware.append(Middleware(LeanRoutes, routes=routes, router=app.router))
        return routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if lean is None or scope.get("root_path") or scope["app"].dependency_overrides or not _json(scope):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        try:
            body = await _whole_body(receive, received)
        except Exception as exc:
            await self.app(scope, _replay(received, receive, exc), send)
            return
        if body is None or body[:1] != b"{":
            await self.app(scope, _replay(received, receive), send)
            return
        try:
            value = bodies.loads(body)
        except bodies.MalformedJson:
            await self.app(scope, _replay(received, receive), send)
            return
        scope[bodies.CHECKED] = True
        # The scope as FastAPI's routing leaves it for the route.
        kept = {key: scope[key] for key in _ROUTED if key in scope}
        scope.setdefault("router", self.router)
        scope.update(route=lean.route, endpoint=lean.endpoint, path_params={**scope.get("path_params", {})})
        try:
            response = await lean(Request(scope, _replay(received, receive), send), value)
        except Exception as exc:
            scope[_RAISED] = exc
            await self.errors(scope, receive, send)
            return
        if response is None:
            for key in _ROUTED:
                scope.pop(key, None)
            scope.update(kept)
            await self.app(scope, _replay(received, receive), send)
            return
        await response(scope, receive, send)


# What routing puts in the scope; what a lean route raised, for its handler.
_ROUTED = ("router", "route", "endpoint", "path_params")
_RAISED = "sandbank.lean.raised"


async def _raise_again(scope: Scope, receive: Receive, send: Send) -> None:
    raise scope.pop(_RAISED)


def _first_match(contexts: list[RouteContext], own: RouteContext, lean: LeanRoute) -> None:
    """NotLean unless `own` (`lean`'s context) is the first route that serves its method
    on its path."""
    for context in contexts:
        if context is own:
            return
        regex = getattr(context, "path_regex", None)
        if regex is None or (regex.match(lean.path) and lean.method in (context.methods or ())):
            raise NotLean(f"{getattr(context, 'name', context.path)} serves {lean.method} {lean.path} first")


def _json(scope: Scope) -> bool:
    """Whether the request's first Content-Type is exactly `application/json`."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value == JSON)
    return False


async def _whole_body(receive: Receive, received: list[Message]) -> bytes | None:
    """The request's body, each message kept in `received`; None if one is not part of it
    (the client left)."""
    chunks = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(received: list[Message], receive: Receive, error: Exception | None = None) -> Receive:
    """`receive` as if nothing had been read: the messages read first, then `error` where
    reading stopped on it, then the rest."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        if error is not None:
            raise error
        return await receive()

    return replay
