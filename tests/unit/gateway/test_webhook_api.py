"""What the webhook routes refuse before they touch the database: bad URLs, unknown event
types and malformed ids, each as problem+json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.main import create_app
from gateway.settings import Settings
from shared.auth import ROLE_ADJUSTER, ROLE_CUSTOMER
from shared.settings import DbSettings
from tests.unit.gateway.fakes import logged_in


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"url": "ftp://example.com/hook", "events": ["*"]}, "invalid-endpoint"),
        ({"url": "https://user:secret@example.com/hook", "events": ["*"]}, "invalid-endpoint"),
        ({"url": "not a url", "events": ["*"]}, "invalid-endpoint"),
        ({"url": "https://example.com/" + "a" * 2100, "events": ["*"]}, "validation-error"),
        ({"url": "https://example.com/hook", "events": ["horoscope"]}, "unknown-event-type"),
        ({"url": "https://example.com/hook", "events": []}, "validation-error"),
        ({"url": "https://example.com/hook"}, "validation-error"),
        ({"url": "https://example.com/hook", "events": ["*"], "secret": "mine"}, "validation-error"),
    ],
)
async def test_an_endpoint_that_cannot_be_kept_is_a_422(app: FastAPI, body: dict[str, Any], slug: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.post("/v1/webhooks/endpoints", json=body)

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(f"/{slug}")


async def test_a_change_to_a_bad_url_is_a_422(app: FastAPI) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.patch(
            "/v1/webhooks/endpoints/0f8e2b1c-3d4a-4b5c-8d6e-7f8091a2b3c4", json={"url": "gopher://example.com"}
        )

    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-endpoint")


@pytest.mark.parametrize(
    "path",
    ["/v1/webhooks/endpoints/not-an-id", "/v1/webhooks/endpoints/0f8e2b1c-3d4a-4b5c-8d6e-7f8091a2b3c4/deliveries/0"],
)
async def test_a_malformed_id_is_a_422(app: FastAPI, path: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.get(path)

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


async def test_webhooks_are_for_customers_and_operators(app: FastAPI) -> None:
    async with logged_in(app, ROLE_ADJUSTER) as client:
        r = await client.get("/v1/webhooks/endpoints")

    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_outside_the_sandbox_an_endpoint_on_the_banks_own_network_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        service="gateway", environment="production", db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    )
    async with logged_in(create_app(settings), ROLE_CUSTOMER) as client:
        r = await client.post("/v1/webhooks/endpoints", json={"url": "http://127.0.0.1:8001/hook", "events": ["*"]})

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/invalid-endpoint")
