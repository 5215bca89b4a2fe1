"""The one dependency for a page's query parameters (shared/pagination.py `paging`): its
bounds, its default, its longest cursor, and the OpenAPI it writes, as a route sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI

from shared.pagination import Page, PageDep, paging
from shared.problems import install_problem_handlers

Short = Annotated[Page, paging(default=20, most=100, cursor_length=8, cursor_doc="`next_cursor` of the page before")]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/plain")
    async def plain(page: PageDep) -> dict[str, Any]:
        return {"limit": page.limit, "cursor": page.cursor}

    @app.get("/short")
    async def short(page: Short) -> dict[str, Any]:
        return {"limit": page.limit, "cursor": page.cursor}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        yield client


async def test_defaults_when_nothing_is_asked(client: httpx.AsyncClient) -> None:
    assert (await client.get("/plain")).json() == {"limit": 50, "cursor": None}
    assert (await client.get("/short")).json() == {"limit": 20, "cursor": None}


async def test_what_is_asked_within_bounds_is_passed_on(client: httpx.AsyncClient) -> None:
    assert (await client.get("/plain", params={"limit": 200, "cursor": "MTA"})).json() == {
        "limit": 200,
        "cursor": "MTA",
    }
    assert (await client.get("/short", params={"limit": 1, "cursor": "x" * 8})).json() == {
        "limit": 1,
        "cursor": "x" * 8,
    }


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/plain", {"limit": "0"}),
        ("/plain", {"limit": "201"}),
        ("/plain", {"limit": "ten"}),
        ("/plain", {"cursor": "x" * 201}),
        ("/short", {"limit": "101"}),
        ("/short", {"cursor": "x" * 9}),
    ],
    ids=["limit zero", "limit past most", "limit not a number", "huge cursor", "limit past its most", "long cursor"],
)
async def test_out_of_bounds_is_a_422_problem(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> None:
    r = await client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_openapi_states_each_routes_bounds(client: httpx.AsyncClient) -> None:
    operations = (await client.get("/openapi.json")).json()["paths"]
    plain = {p["name"]: p for p in operations["/plain"]["get"]["parameters"]}
    short = {p["name"]: p for p in operations["/short"]["get"]["parameters"]}
    assert plain["limit"]["schema"] == {
        "type": "integer",
        "maximum": 200,
        "minimum": 1,
        "default": 50,
        "title": "Limit",
    }
    assert plain["limit"]["in"] == "query" and not plain["limit"]["required"]
    assert plain["cursor"]["schema"]["anyOf"][0] == {"type": "string", "maxLength": 200}
    assert short["limit"]["schema"]["maximum"] == 100 and short["limit"]["schema"]["default"] == 20
    assert short["cursor"]["schema"]["anyOf"][0] == {"type": "string", "maxLength": 8}
    assert short["cursor"]["description"] == "`next_cursor` of the page before"
