"""The gateway's payment rows on the lean path (shared/lean.py): a plain request is answered
by it, with the same identity checks (a token whose session is live), and every request
that is not plain gets the same answer, byte for byte, as from the FastAPI route alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from bench.reqpath import PAYEE_ACCOUNT, PAYER_ACCOUNT
from gateway import main, store
from gateway.bootstrap import Overrides
from gateway.routing.upstream import UpstreamResponse
from gateway.settings import Settings
from shared.auth import ROLE_CUSTOMER, ROLE_OPERATOR
from shared.lean import LeanRoutes
from shared.settings import DbSettings
from tests.routed import count_routed
from tests.unit.gateway.fakes import FakeUpstreams

LEAN = main.LEAN
TRANSFER = orjson.dumps({"payer_account_id": PAYER_ACCOUNT, "payee_account_id": PAYEE_ACCOUNT, "amount": "1.00"})
ACCEPTED = b'{"id":"p-1","status":"pending"}'


def _headers(token: str | None = "customer", **extra: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {token}",
        "idempotency-key": "k-1",
        "content-type": "application/json",
        "x-request-id": "r-1",  # the same in both answers
        **extra,
    }


REQUESTS: list[tuple[dict[str, str], bytes]] = [
    (_headers(None), TRANSFER),
    (_headers("forged"), TRANSFER),
    (_headers("ended"), TRANSFER),
    (_headers("operator"), TRANSFER),
    ({**_headers(), "idempotency-key": ""}, TRANSFER),
    (_headers(), b'{"payer_account_id": '),
    (_headers(), b"[]"),
    (_headers(), b""),
    (_headers(), TRANSFER[:-1] + b', "colour": "red"}'),
    (_headers(), b'{"payer_account_id": "a"}'),
    (_headers(), TRANSFER.replace(b'"1.00"', b"1.0")),
    (_headers("ended"), b"{not json"),
    ({**_headers(), "content-type": "text/plain"}, TRANSFER),
    ({k: v for k, v in _headers().items() if k != "content-type"}, TRANSFER),
    (_headers(), b"x" * 100_000),
    (_headers(), TRANSFER[:-1] + b', "amount": "9000.00"}'),
    (_headers(), TRANSFER[:-1] + b', "note": "caf\xe9"}'),
    (_headers(), TRANSFER.decode().encode("utf-16")),
]


def _lean(app: FastAPI) -> bool:
    return any(m.cls is LeanRoutes for m in app.user_middleware)


@pytest.fixture
async def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[tuple[FastAPI, dict[str, str]]]]:
    """The gateway without and with the lean path, each on upstreams that accept every
    payment, with the tokens of a live session, an ended one and an operator's."""
    made = []
    for lean in (False, True):
        monkeypatch.setattr(main, "LEAN", LEAN if lean else ())
        upstreams = FakeUpstreams()
        upstreams.answer = UpstreamResponse("payments", 202, ACCEPTED, {"content-type": "application/json"})
        db = DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / f'{lean}.db'}")
        app = main.create_app(Settings(service="gateway", db=db), overrides=Overrides(upstreams=upstreams))
        gw = app.state.gateway
        await gw.runtime.db.create_all(store.Base.metadata)
        gw.sessions._active["s-1"] = (float("inf"), "c-1")
        tokens = {
            "customer": gw.runtime.tokens.issue("c-1", [ROLE_CUSTOMER], audience="gateway", session_id="s-1"),
            "ended": gw.runtime.tokens.issue("c-1", [ROLE_CUSTOMER], audience="gateway", session_id="s-gone"),
            "operator": gw.runtime.tokens.issue("o-1", [ROLE_OPERATOR], audience="gateway", session_id="s-1"),
        }
        assert _lean(app) is lean
        made.append((app, tokens))
    yield made
    for app, _ in made:
        await app.state.gateway.runtime.db.dispose()


async def _answer(app: FastAPI, tokens: dict[str, str], headers: dict[str, str], body: bytes) -> tuple[int, Any, bytes]:
    auth = headers["authorization"].removeprefix("Bearer ")
    sent = {**headers, "authorization": f"Bearer {tokens.get(auth, auth)}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        r = await client.post("/v1/payments/transfers", content=body, headers=sent)
    return r.status_code, sorted(r.headers.multi_items()), r.content


@pytest.mark.parametrize("index", range(len(REQUESTS)))
async def test_a_transfer_not_on_the_plain_path_is_answered_as_before(
    apps: list[tuple[FastAPI, dict[str, str]]], index: int
) -> None:
    headers, body = REQUESTS[index]
    plain, lean = [await _answer(app, tokens, headers, body) for app, tokens in apps]

    assert plain[0] >= 400, plain
    assert lean == plain


async def test_a_plain_transfer_is_forwarded_on_the_lean_path(
    apps: list[tuple[FastAPI, dict[str, str]]],
) -> None:
    lean_app = apps[1][0]
    routed = count_routed(lean_app)
    plain, lean = [await _answer(app, tokens, _headers(), TRANSFER) for app, tokens in apps]

    assert routed == []
    assert lean == plain
    assert (lean[0], lean[2]) == (202, ACCEPTED)
    # The service was asked the same either way, on the gateway's word for the same caller
    # (a token of its own for each call).
    asked = [app.state.gateway.upstreams.asked for app, _ in apps]
    assert len(asked[1]) == 1
    for calls in asked:
        assert calls[0]["headers"].pop("authorization").startswith("Bearer ")
    assert asked[0] == asked[1]
