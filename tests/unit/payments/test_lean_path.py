"""payments' payment routes on the lean path (shared/lean.py): a plain request is answered
by it, and every request that is not plain (malformed, refused, another content type, no
token or key) gets the same answer, byte for byte, as from the FastAPI route alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from bench.reqpath import PAYEE_ACCOUNT, PAYER_ACCOUNT, Directory, Starter
from services.payments import api, store
from services.payments.main import create_app
from services.payments.settings import Settings
from shared.auth import ROLE_CUSTOMER, ROLE_OPERATOR
from shared.lean import LeanRoutes
from shared.settings import DbSettings
from tests.routed import count_routed
from tests.tokens import Minter

TRANSFER = {"payer_account_id": PAYER_ACCOUNT, "payee_account_id": PAYEE_ACCOUNT, "amount": "1.00"}


def _as(*roles: str) -> str:
    return f"Bearer {Minter().issue('c-1', list(roles), session_id='s-1')}"


CUSTOMER = {
    "authorization": _as(ROLE_CUSTOMER),
    "idempotency-key": "k-1",
    "content-type": "application/json",
    "x-request-id": "r-1",  # the same in both answers
}
REQUESTS: list[tuple[str, dict[str, str], bytes]] = [
    ("transfers", {**CUSTOMER, "authorization": ""}, orjson.dumps(TRANSFER)),
    ("transfers", {**CUSTOMER, "authorization": _as(ROLE_OPERATOR)}, orjson.dumps(TRANSFER)),
    ("transfers", {**CUSTOMER, "authorization": "Bearer forged"}, orjson.dumps(TRANSFER)),
    ("transfers", {**CUSTOMER, "idempotency-key": ""}, orjson.dumps(TRANSFER)),
    ("transfers", {**CUSTOMER, "idempotency-key": "\x01"}, b"{not json"),
    ("transfers", CUSTOMER, b'{"payer_account_id": '),
    ("transfers", CUSTOMER, b"[]"),
    ("transfers", CUSTOMER, b""),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "colour": "red"})),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "amount": 1.0})),
    ("transfers", CUSTOMER, orjson.dumps({k: v for k, v in TRANSFER.items() if k != "amount"})),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "amount": "many"})),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "amount": "-1.00"})),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "payee_account_id": PAYER_ACCOUNT})),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "payee_account_id": "nobody"})),
    ("transfers", CUSTOMER, orjson.dumps({**TRANSFER, "amount": "9999999.00"})),
    ("transfers", {**CUSTOMER, "content-type": "text/plain"}, orjson.dumps(TRANSFER)),
    ("transfers", CUSTOMER, b"x" * 100_000),
    ("bills", CUSTOMER, orjson.dumps({"payer_account_id": PAYER_ACCOUNT, "biller_code": "nope", "amount": "1.00"})),
    ("qr", CUSTOMER, orjson.dumps({"payer_account_id": PAYER_ACCOUNT, "qr_payload": "not a code"})),
    ("topups", CUSTOMER, orjson.dumps({"payer_account_id": PAYER_ACCOUNT, "phone": "12", "amount": "1.00"})),
]


LEAN = api.LEAN


def _app(directory: Path, *, lean: bool, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setattr(api, "LEAN", LEAN if lean else ())
    app = create_app(Settings(service="payments", db=DbSettings(url=f"sqlite+aiosqlite:///{directory / 'p.db'}")))
    app.state.accounts = Directory()
    app.state.starter = Starter(app.state.ctx)
    return app


def _lean(app: FastAPI) -> bool:
    return any(m.cls is LeanRoutes for m in app.user_middleware)


@pytest.fixture
async def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[FastAPI]:
    made = []
    for lean in (False, True):
        (tmp_path / str(lean)).mkdir()
        app = _app(tmp_path / str(lean), lean=lean, monkeypatch=monkeypatch)
        await app.state.runtime.db.create_all(store.Base.metadata)
        made.append(app)
    assert [_lean(app) for app in made] == [False, True]
    yield made
    for app in made:
        await app.state.runtime.db.dispose()


async def _answer(app: FastAPI, kind: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, bytes]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments") as client:
        r = await client.post(f"/v1/payments/{kind}", content=body, headers=headers)
    return r.status_code, sorted(r.headers.multi_items()), r.content


@pytest.mark.parametrize("index", range(len(REQUESTS)))
async def test_a_payment_request_not_on_the_plain_path_is_answered_as_before(apps: list[FastAPI], index: int) -> None:
    kind, headers, body = REQUESTS[index]
    plain, lean = [await _answer(app, kind, headers, body) for app in apps]

    assert plain[0] >= 400, plain
    assert lean == plain


async def test_a_plain_transfer_is_accepted_on_the_lean_path(
    apps: list[FastAPI],
) -> None:
    lean = apps[1]
    routed = count_routed(lean)
    answers = [await _answer(app, "transfers", CUSTOMER, orjson.dumps(TRANSFER)) for app in apps]

    assert routed == []
    for status, headers, body in answers:
        assert status == 202
        payment = orjson.loads(body)
        assert (payment["status"], payment["amount"]) == ("pending", "1.00")
        assert payment["payee"]["account_id"] == PAYEE_ACCOUNT
        assert ("location", f"/v1/payments/{payment['id']}") in headers
    # The same headers either way (but the payment's own location).
    plain, lean = [[h for h in headers if h[0] != "location"] for _, headers, _ in answers]
    assert lean == plain
