"""Request bodies are limited per process, with a larger limit for the routes that take
files, and only for them: a body over its route's limit is a 413 problem."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from shared.observability import BodySizeLimitMiddleware

LIMIT, FILES = 1_000, 10_000


def app() -> FastAPI:
    application = FastAPI()

    @application.post("/v1/claims/{claim_id}/documents")
    @application.post("/v1/claims/{claim_id}")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    application.add_middleware(
        BodySizeLimitMiddleware, max_bytes=LIMIT, routes={"/v1/claims/{claim_id}/documents": FILES}
    )
    return application


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/v1/claims/c-1/documents", FILES, 200),
        ("/v1/claims/c-1/documents", FILES + 1, 413),
        ("/v1/claims/c-1", LIMIT, 200),
        ("/v1/claims/c-1", LIMIT + 1, 413),
        ("/v1/claims/c-1/documents/extra", LIMIT + 1, 413),
        ("/v1/claims/a/b/documents", LIMIT + 1, 413),
    ],
)
async def test_a_body_is_held_to_its_routes_limit(path: str, size: int, status: int) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app()), base_url="http://test") as client:
        r = await client.post(path, content=b"x" * size)
    assert r.status_code == status, r.text
    if status == 413:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/payload-too-large")
        assert r.json()["instance"] == path


def test_a_route_template_matches_one_segment_per_parameter() -> None:
    middleware = BodySizeLimitMiddleware(app(), max_bytes=LIMIT, routes={"/v1/claims/{claim_id}/documents": FILES})
    assert middleware.limit("/v1/claims/c-1/documents") == FILES
    assert middleware.limit("/v1/claims/c/1/documents") == LIMIT
    assert middleware.limit("/v1/claims//documents") == LIMIT
