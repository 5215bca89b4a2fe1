"""What every process's app and server add to each answer, and leave out of it: security
headers on every response (a route's own Cache-Control kept), no server banner."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Response

from shared import observability, server
from shared.observability import RequestContextMiddleware
from shared.web import serve
from tests.unit.shared.test_internal_routes import APPS, settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


# A route of each process's own API (asked without a token here).
API = {
    "gateway": "/v1/accounts",
    "accounts": "/v1/accounts",
    "payments": "/v1/payments",
    "securities": "/v1/securities/orders",
    "insurance": "/v1/insurance/policies",
}


@pytest.mark.parametrize("service", APPS)
@pytest.mark.parametrize(
    ("path", "status"), [("/healthz", 200), (None, 401), ("/v1/no-such-thing", 404), ("/internal/clock", 401)]
)
async def test_every_answer_is_not_to_be_stored_sniffed_framed_or_referred(
    service: str, path: str | None, status: int, tmp_path: Path
) -> None:
    app = APPS[service](settings(service, tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        r = await http.get(path or API[service])

    assert r.status_code == status
    assert r.headers["cache-control"] == "no-store"
    assert {k: r.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_a_route_that_says_how_to_cache_keeps_its_word() -> None:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.get("/stream")
    async def stream() -> Response:
        return Response(b"", headers={"Cache-Control": "no-cache"})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        r = await http.get("/stream")

    assert r.headers.get_list("cache-control") == ["no-cache"]
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("service", ["accounts", "gateway"])
def test_the_server_sends_no_banner_and_takes_no_clients_word_for_its_address(
    service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: list[uvicorn.Config] = []
    monkeypatch.setattr(server, "run", ran.append)
    monkeypatch.setattr(observability, "configure_logging", lambda *args: None)

    serve(APPS[service], settings(service, tmp_path))

    assert ran[0].server_header is False
    # Rate limits count against the socket's peer, never an X-Forwarded-For it sends.
    assert ran[0].proxy_headers is False


DOCUMENTS = ["/docs", "/redoc", "/openapi.json"]


@pytest.mark.parametrize("service", APPS)
async def test_production_serves_no_api_documents(service: str, tmp_path: Path) -> None:
    production = settings(service, tmp_path).model_copy(update={"environment": "production"})
    app = APPS[service](production)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        answers = [(await http.get(path)).status_code for path in DOCUMENTS]

    assert answers == [404, 404, 404]
    assert app.openapi()["paths"]  # still made for the tools that publish it


@pytest.mark.parametrize("environment", ["sandbox", "development"])
async def test_sandbox_and_development_serve_the_api_documents(environment: str, tmp_path: Path) -> None:
    app = APPS["gateway"](settings("gateway", tmp_path).model_copy(update={"environment": environment}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        answers = [(await http.get(path)).status_code for path in DOCUMENTS]

    assert answers == [200, 200, 200]
