"""What the push and preference routes refuse before they touch the database, and the push
log's absence outside sandbox mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.main import create_app
from gateway.settings import Settings
from shared.auth import ROLE_CUSTOMER
from shared.settings import DbSettings
from tests.unit.gateway.fakes import logged_in


@pytest.mark.parametrize(
    ("items", "slug"),
    [
        ([{"kind": "horoscope", "push": False}], "unknown-kind"),
        ([{"kind": "stepup_code", "push": False}], "preference-locked"),
        ([{"kind": "new_device_signed_in", "push": False}], "preference-locked"),
        ([{"kind": "price_alert", "push": "maybe"}], "validation-error"),
        ([{"kind": "price_alert", "push": "no"}], "validation-error"),
        ([{"kind": "price_alert", "push": 0}], "validation-error"),
        ([{"kind": "price_alert", "push": False}, {"kind": "price_alert", "push": True}], "validation-error"),
    ],
)
async def test_a_preference_that_cannot_be_kept_is_a_422(app: FastAPI, items: list[dict[str, Any]], slug: str) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.put("/v1/me/notification-preferences", json={"items": items})

    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(f"/{slug}")


async def test_marking_all_read_takes_only_a_notification_id(app: FastAPI) -> None:
    async with logged_in(app, ROLE_CUSTOMER) as client:
        r = await client.post("/v1/notifications/read-all", params={"before_id": 2**31})

    assert r.status_code == 422 and r.json()["type"].endswith("/validation-error")


async def test_outside_sandbox_mode_there_is_no_push_log(tmp_path: Path) -> None:
    settings = Settings(
        service="gateway", environment="production", db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    )
    async with logged_in(create_app(settings), ROLE_CUSTOMER) as client:
        r = await client.get("/v1/sandbox/push-deliveries")

    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
