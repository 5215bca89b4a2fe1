"""What payments answers a payment request before anything is looked up: the caller first
(401 without a token, 403 for another role), then the Idempotency-Key (400), then the body
(422); the app's lifespan is not run, so nothing past them is reached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.payments.main import create_app
from services.payments.settings import Settings
from shared.auth import ROLE_CUSTOMER, ROLE_OPERATOR
from shared.schemas.payments import TransferCreate
from shared.settings import DbSettings
from tests.tokens import Minter

BODY: dict[str, Any] = TransferCreate.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(service="payments", db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments") as client:
        yield client


def _as(*roles: str) -> dict[str, str]:
    return {"authorization": f"Bearer {Minter().issue('c-1', list(roles), session_id='s-1')}"}


@pytest.mark.parametrize(
    ("headers", "body", "status", "problem"),
    [
        ({}, {}, 401, "unauthorized"),
        (_as(ROLE_OPERATOR), {}, 403, "forbidden"),
        (_as(ROLE_CUSTOMER), {}, 400, "idempotency-key-missing"),
        ({**_as(ROLE_CUSTOMER), "Idempotency-Key": "\x01"}, BODY, 400, "idempotency-key-invalid"),
        ({**_as(ROLE_CUSTOMER), "Idempotency-Key": "k-1"}, {**BODY, "amount": "many"}, 422, "invalid-amount"),
    ],
)
async def test_a_payment_is_refused_in_order_of_caller_key_and_body(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], status: int, problem: str
) -> None:
    r = await client.post("/v1/payments/transfers", json=body, headers=headers)

    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(f"/{problem}")
