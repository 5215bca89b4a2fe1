"""The /internal routes of every process: left out of its OpenAPI document, and answered
only to a verified service or operator (the sandbox clock included)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from gateway.main import create_app as gateway_app
from gateway.settings import Settings as GatewayProcessSettings
from services.accounts.main import create_app as accounts_app
from services.insurance.main import create_app as insurance_app
from services.insurance.settings import Settings as InsuranceProcessSettings
from services.payments.main import create_app as payments_app
from services.payments.settings import Settings as PaymentsProcessSettings
from services.securities.main import create_app as securities_app
from services.securities.settings import Settings as SecuritiesProcessSettings
from shared.settings import AuthSettings, DbSettings, Settings
from tests.tokens import Minter

APPS: dict[str, Callable[[Any], FastAPI]] = {
    "gateway": gateway_app,
    "accounts": accounts_app,
    "payments": payments_app,
    "securities": securities_app,
    "insurance": insurance_app,
}


# Processes with knobs of their own take their own subclass of Settings.
SETTINGS: dict[str, type[Settings]] = {
    "gateway": GatewayProcessSettings,
    "payments": PaymentsProcessSettings,
    "securities": SecuritiesProcessSettings,
    "insurance": InsuranceProcessSettings,
}


def settings(service: str, directory: Path) -> Settings:
    return SETTINGS.get(service, Settings)(
        service=service,
        environment="sandbox",
        db=DbSettings(url=f"sqlite+aiosqlite:///{directory / f'{service}.db'}"),
        auth=AuthSettings(),
    )


@pytest.mark.parametrize("service", APPS)
def test_no_internal_route_is_in_the_openapi_document(service: str, tmp_path: Path) -> None:
    app = APPS[service](settings(service, tmp_path))
    served = [c.path for c in iter_route_contexts(app.routes)]

    paths = app.openapi()["paths"]

    assert "/internal/clock" in served
    assert [p for p in paths if p.startswith("/internal")] == []
    assert "/healthz" in paths


@pytest.fixture
async def accounts(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Minter]]:
    config = settings("accounts", tmp_path)
    app = accounts_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://accounts") as http:
        yield http, Minter()
    await app.state.runtime.db.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/internal/clock", "/internal/faults", "/internal/dead-letters"])
async def test_an_internal_route_needs_a_token(accounts: tuple[httpx.AsyncClient, Minter], path: str) -> None:
    http, _ = accounts

    r = await http.get(path)

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (401, "unauthorized")


@pytest.mark.parametrize("path", ["/internal/clock", "/internal/faults", "/internal/customers/by-phone/+8613900000001"])
@pytest.mark.parametrize("roles", [["customer"], ["adjuster"], []])
async def test_an_internal_route_refuses_whoever_is_not_a_service_or_operator(
    accounts: tuple[httpx.AsyncClient, Minter], path: str, roles: list[str]
) -> None:
    http, tokens = accounts

    r = await http.get(path, headers=_bearer(tokens.issue("someone", roles)))

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (403, "forbidden")


@pytest.mark.parametrize("roles", [["service"], ["operator"]])
async def test_services_and_operators_read_the_clock(
    accounts: tuple[httpx.AsyncClient, Minter], roles: list[str]
) -> None:
    http, tokens = accounts

    token = tokens.service_token() if roles == ["service"] else tokens.issue("caller", roles)
    r = await http.get("/internal/clock", headers=_bearer(token))

    assert r.status_code == 200, r.text
    assert r.json()["offset_s"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/internal/dead-letters/99999999999999999999/replay"),
        ("POST", "/internal/dead-letters/2147483648/replay"),
        ("GET", "/internal/dead-letters?limit=-1"),
        ("GET", "/internal/dead-letters?limit=100000"),
    ],
)
async def test_dead_letter_ids_and_limits_outside_the_table_are_refused(
    accounts: tuple[httpx.AsyncClient, Minter], method: str, path: str
) -> None:
    http, tokens = accounts

    r = await http.request(method, path, headers=_bearer(tokens.service_token()))

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (422, "validation-error")


@pytest.mark.parametrize("service", APPS)
async def test_metrics_need_a_token(service: str, tmp_path: Path) -> None:
    app = APPS[service](settings(service, tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        r = await http.get("/metrics")

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (401, "unauthorized")


@pytest.mark.parametrize("roles", [["customer"], ["adjuster"], []])
async def test_metrics_are_for_operators_and_services_only(
    accounts: tuple[httpx.AsyncClient, Minter], roles: list[str]
) -> None:
    http, tokens = accounts

    r = await http.get("/metrics", headers=_bearer(tokens.issue("someone", roles)))

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (403, "forbidden")


@pytest.mark.parametrize("path", ["/api/internal/clock", "/api/internal/faults", "/api/metrics"])
async def test_behind_a_proxy_prefix_the_rule_still_holds(tmp_path: Path, path: str) -> None:
    app = accounts_app(settings("accounts", tmp_path))
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://accounts") as http:
        r = await http.get(path)

    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (401, "unauthorized")


@pytest.mark.parametrize("service", APPS)
async def test_a_trailing_slash_is_not_found_and_names_no_host(service: str, tmp_path: Path) -> None:
    """A path with a trailing slash is an unknown path: a 404 problem, before any token is
    asked for, with no redirect built from the request's (forgeable) Host header."""
    app = APPS[service](settings(service, tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        for method, path in (("POST", "/v1/payments/transfers/"), ("GET", "/v1/accounts/"), ("GET", "/healthz/")):
            r = await http.request(method, path, headers={"Host": "evil.example:9999"})
            assert r.status_code == 404, (path, r.status_code, r.headers)
            assert "location" not in r.headers and "evil.example" not in r.text
            assert r.headers["content-type"].startswith("application/problem+json")
