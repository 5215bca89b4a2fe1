"""Routing by the path's first segments: each request is matched only against the routes
that could serve it.

FastAPI matches a request by asking each included router in turn, and each router asks
each of its routes: the gateway's `POST /v1/payments/transfers` was compared with some
fifty path patterns before its own, and its router was scanned twice (once to match,
once to handle). That was about a quarter of the CPU the gateway's request path costs.

`RouteIndex` sits where the app's router dispatches and keeps, for each path's first
`DEPTH` segments, a copy of the router that lists only the top-level routes whose path
templates could match such a path, in their order. The router then runs as before over
that shorter list: the first match is the same route, a 405's `Allow` the same methods,
a trailing-slash redirect the same. Routes whose paths it cannot read (a mount, a host)
stay in every list.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

DEPTH = 2
# A template's segment: any segment, or the route takes any path from here on.
_ONE, _REST = "{one}", "{rest}"
# The path ended before this segment.
_END = ""
# Copies kept: one per distinct path start seen, bounded against a scan of random paths.
MAX_VIEWS = 4096


def path_key(path: str) -> tuple[str, ...]:
    """The first `DEPTH` segments of a request's path (empty ones, as in `//`, skipped:
    no route template has them), `_END` past its last."""
    segments = [s for s in path.split("/") if s][:DEPTH]
    return (*segments, *[_END] * (DEPTH - len(segments)))


def template_key(template: str) -> tuple[str, ...]:
    """What a route's path template asks of the first `DEPTH` segments: a static segment,
    `_ONE` (a `{param}`, one non-empty segment), `_REST` (a `{param:path}` or anything
    else it cannot tell: any segments from here on), or `_END`."""
    key: list[str] = []
    for segment in [s for s in template.split("/") if s][:DEPTH]:
        if "{" not in segment and "}" not in segment:
            key.append(segment)
        elif segment.startswith("{") and segment.endswith("}") and segment.count("{") == 1 and ":" not in segment:
            key.append(_ONE)
        else:
            key.append(_REST)
            break
    if key and key[-1] == _REST:
        return (*key, *[_REST] * (DEPTH - len(key)))
    return (*key, *[_END] * (DEPTH - len(key)))


def _fits(template: tuple[str, ...], path: tuple[str, ...]) -> bool:
    for wanted, found in zip(template, path, strict=True):
        if wanted == _REST:
            return True
        if wanted == _ONE:
            if found == _END:
                return False
        elif wanted != found:
            return False
    return True


def _templates(route: BaseRoute) -> list[tuple[str, ...]]:
    """The keys of every path `route` serves; `_REST` throughout where it cannot tell."""
    anything = (_REST,) * DEPTH
    keys = []
    for context in iter_route_contexts([route]):
        template = context.path  # with its convertors (`{name:path}`), unlike path_format
        if not isinstance(context.original_route, Route) or not isinstance(template, str):
            return [anything]  # a mount, a host: whatever path
        keys.append(template_key(template))
    return keys or [anything]


class RouteIndex:
    """The router's dispatch, over the routes that could match the request's path (see
    the module's docstring). Built at the first request, when the app is assembled, and
    again when a route is added to the app after that; a request a route added to an
    included router later would serve is routed by the whole router."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._routes: Sequence[BaseRoute] = ()
        self._count = -1
        self._keys: list[tuple[BaseRoute, list[tuple[str, ...]]]] = []
        self._views: dict[tuple[str, ...], Router] = {}

    @classmethod
    def install(cls, router: Router) -> bool:
        """Route `router`'s requests through an index; False where its dispatch is not the
        plain one this assumes (a router with middleware of its own, or routes that
        match only when nothing else does)."""
        if router.middleware_stack != router.app or _has_fallback_routes(router):
            return False
        router.middleware_stack = cls(router)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            # Routes match the path past a root path: not what this index reads.
            await self.router.app(scope, receive, send)
            return
        scope.setdefault("router", self.router)  # url_for sees every route, not the copy's
        await self._view(path_key(scope["path"])).app(scope, receive, send)

    def _view(self, key: tuple[str, ...]) -> Router:
        routes = self.router.routes
        if routes is not self._routes or len(routes) != self._count:
            self._routes, self._count = routes, len(routes)
            self._keys = [(route, _templates(route)) for route in routes]
            self._views.clear()
        view = self._views.get(key)
        if view is None:
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            view = copy.copy(self.router)
            view.routes = [route for route, keys in self._keys if any(_fits(k, key) for k in keys)]
            # What the copy does not match goes through the whole router, which answers it as
            # before (404): a route added to an included router after the index was built,
            # which the copy does not list, is found there.
            view.default = self.router.app
            self._views[key] = view
        return view

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes a request for `path` is matched against, in order."""
        return list(self._view(path_key(path)).routes)


def _has_fallback_routes(router: Router) -> bool:
    found: Iterable[Any] = getattr(router, "_iter_low_priority_routes", list)()
    return any(True for _ in found)
