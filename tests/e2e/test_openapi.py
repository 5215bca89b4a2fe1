"""The gateway answers as its OpenAPI document says (tests/conformance.py), over real HTTP
in front of the stack's services: to a customer with a funded account, to an operator
and an adjuster on their routes.

The stack is shared with the other e2e tests, so what would change it for them is asked
with a customer's token and checked for its refusal: the sandbox clock, faults and
reset, a dead letter's replay and a pinned market price. Logging out ends the session it
is asked with: each such request brings a session of its own."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest
from schemathesis.schemas import APIOperation

from shared.sandbox import ADJUSTERS
from tests.conformance import QUIET, STREAM, budget, check_app
from tests.e2e.phone import Phone

# About a hundred operations, each tried with generated input: on a busy shared machine
# that outlasts the suite's 180 s limit for one test.
pytestmark = [pytest.mark.e2e, QUIET, pytest.mark.timeout(480)]

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
    # Generated filters match nothing, so each call waits its whole `wait_s` (up to 30 s):
    # its answers and refusals are tested in tests/e2e/test_console.py.
    "GET /v1/admin/console/events": "a long poll that waits for a matching message",
}


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

    report = await check_app(gateway, document, auth, max_examples=budget(10), skip=SKIP)

    report.assert_as_documented()
