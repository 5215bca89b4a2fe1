"""Routing through the index of path starts (shared/route_index.py) answers every request
as FastAPI's own routing does: the same route, the same 404, 405 and redirect; only the
routes that could match are asked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from shared.route_index import RouteIndex, path_key, template_key
from tests.unit.shared.test_internal_routes import APPS, settings


def app_of(indexed: bool) -> FastAPI:
    app = FastAPI()
    things = APIRouter()

    @things.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"route": "thing", "id": thing_id}

    @things.post("/v1/things/special")  # never reached by a GET: the route above is first
    async def special() -> dict[str, str]:
        return {"route": "special"}

    @things.get("/v1/things/")
    async def things_slash() -> dict[str, str]:
        return {"route": "things/"}

    other = APIRouter()

    @other.get("/v1/{area}/summary")
    async def summary(area: str, request: Request) -> dict[str, str]:
        # A route of another router is still found by name.
        return {"route": "summary", "area": area, "thing": str(request.url_for("thing", thing_id="t-1"))}

    @other.get("/{anything:path}/deep")
    async def deep(anything: str) -> dict[str, str]:
        return {"route": "deep", "anything": anything}

    @other.get("/")
    async def root() -> dict[str, str]:
        return {"route": "root"}

    app.include_router(things)
    app.include_router(other)
    app.router.routes.append(Mount("/files", app=PlainTextResponse("a file")))
    if indexed:
        assert RouteIndex.install(app.router)
    return app


REQUESTS = [
    ("GET", "/v1/things/t-1"),
    ("GET", "/v1/things/special"),
    ("POST", "/v1/things/special"),
    ("DELETE", "/v1/things/t-1"),
    ("GET", "/v1/things"),
    ("GET", "/v1/things/"),
    ("GET", "/v1/things//x"),
    ("GET", "/v1/payments/summary"),
    ("GET", "/v1/payments/summary/"),
    ("GET", "/a/b/c/deep"),
    ("GET", "/"),
    ("GET", "/v1"),
    ("GET", "/files/report.pdf"),
    ("GET", "/nowhere"),
    ("GET", "/v1/nowhere/at/all"),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
async def test_an_indexed_app_answers_as_fastapi_does(method: str, path: str) -> None:
    answers = []
    for indexed in (False, True):
        transport = httpx.ASGITransport(app=app_of(indexed))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.request(method, path)
        answers.append((r.status_code, r.headers.get("allow"), r.headers.get("location"), r.content))

    assert answers[0] == answers[1]


def test_only_the_routes_that_could_match_a_path_are_asked() -> None:
    app = app_of(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    everything = len(app.router.routes)

    # The things router, the other router (its `{area}` and `{anything:path}` routes), the mount.
    assert len(index.candidates("/v1/things/t-1")) == 3
    # The other router (`/`, `{anything:path}`), and the mount, which says nothing of its paths.
    assert len(index.candidates("/")) == 2
    # FastAPI's own route, the other router and the mount.
    assert len(index.candidates("/openapi.json")) == 3
    assert everything > 3


async def test_a_route_added_to_an_included_router_later_is_found() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/v1/first")
    async def first() -> dict[str, str]:
        return {"route": "first"}

    app.include_router(router)
    assert RouteIndex.install(app.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/v1/first")).status_code == 200

        @router.get("/later/one")
        async def later() -> dict[str, str]:
            return {"route": "later"}

        assert (await http.get("/later/one")).json() == {"route": "later"}


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/payments/transfers", ("v1", "payments")),
        ("/v1", ("v1", "")),
        ("/v1/", ("v1", "")),
        ("/", ("", "")),
        ("//v1//payments", ("v1", "payments")),
    ],
)
def test_a_paths_start(path: str, key: tuple[str, ...]) -> None:
    assert path_key(path) == key


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("/v1/payments/{payment_id}", ("v1", "payments")),
        ("/v1/{area}/summary", ("v1", "{one}")),
        ("/console/{name}", ("console", "{one}")),
        ("/healthz", ("healthz", "")),
        ("/{anything:path}/deep", ("{rest}", "{rest}")),
        ("/v1/{file}.pdf", ("v1", "{rest}")),
        ("/", ("", "")),
    ],
)
def test_what_a_template_asks_of_a_paths_start(template: str, key: tuple[str, ...]) -> None:
    assert template_key(template) == key


@pytest.mark.parametrize("service", APPS)
def test_every_process_routes_through_the_index(service: str, tmp_path: Path) -> None:
    app = APPS[service](settings(service, tmp_path))

    assert isinstance(app.router.middleware_stack, RouteIndex)


def test_the_gateways_transfers_are_matched_against_the_payments_rows_alone(tmp_path: Path) -> None:
    app = APPS["gateway"](settings("gateway", tmp_path))
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)

    paths = {
        getattr(context, "path_format", None)
        for route in index.candidates("/v1/payments/transfers")
        for context in iter_route_contexts([route])
    }

    assert "/v1/payments/transfers" in paths
    assert all(p.startswith("/v1/payments") for p in paths if p)
