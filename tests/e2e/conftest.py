"""The whole stack as processes (broker, services, gateway), driven over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.sandbox import OPERATOR
from tests.e2e.phone import Phone, register_and_login
from tools.stack import Stack

pytestmark = pytest.mark.e2e


@contextmanager
def running_stack(
    tmp_path_factory: pytest.TempPathFactory,
    name: str = "stack",
    *,
    step_up: bool = False,
    env: Mapping[str, str] | None = None,
    start_timeout_s: float = 60,
    **options: Any,
) -> Iterator[Stack]:
    """A stack of its own; without `step_up`, payments asks for no one-time code. `env`:
    settings of its own for every process; `options`: the Stack's (replicas, db_url ...)."""
    data_dir: Path = tmp_path_factory.mktemp(name)
    # Step-up authentication is tested on a stack of its own (`stepup_stack`); here it
    # would only stand between the other tests and what they are about.
    no_step_up = (
        {} if step_up else {"AUTH_STEPUP_AMOUNT_MINOR": str(10**12), "AUTH_STEPUP_NEW_PAYEE_MINOR": str(10**12)}
    )
    # Every test registers and logs in from this one address; the login and registration
    # limits are tested on their own gateways (tests/e2e/test_security_identity.py).
    roomy = {f"GATEWAY_RATE_{what}_{per}_BURST": "1000000" for what in ("LOGIN", "REGISTER") for per in ("IP", "PHONE")}
    # Session-wide logins (the operator's) outlive the 15-minute access token on a slow
    # run; token expiry is tested on its own (tests/unit/shared/test_tokens.py).
    lasting = {"AUTH_ACCESS_TTL_S": "7200"}
    running = Stack(
        data_dir,
        gateway_port=0,
        env={"SANDBANK_LOG_JSON": "true", **no_step_up, **roomy, **lasting, **(env or {})},
        **options,
    )
    running.start(timeout_s=start_timeout_s)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="session")
def stepup_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose payments asks for one-time codes at the default amounts (5,000.00, and
    1,000.00 for a transfer to a new payee): payments decides step-up, after validating a
    payment. Started only for the tests of step-up, which ask for it."""
    with running_stack(tmp_path_factory, "stepup-stack", step_up=True) as running:
        yield running


@asynccontextmanager
async def client_of(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the stack's own gateway."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as client:
        yield client


async def operator_login(gateway: httpx.AsyncClient) -> dict[str, str]:
    r = await gateway.post("/v1/auth/login", json={"phone": OPERATOR.phone, "password": OPERATOR.password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="session")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(stack) as client:
        yield client


@pytest.fixture
async def customer(gateway: httpx.AsyncClient) -> Phone:
    return await register_and_login(gateway)


@pytest.fixture(scope="session")
async def operator_headers(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await operator_login(gateway)


@pytest.fixture
async def ledger_balanced(gateway: httpx.AsyncClient, operator_headers: dict[str, str]) -> AsyncIterator[None]:
    """Run the test, then insist the ledger check finds nothing wrong."""
    yield
    r = await gateway.get("/v1/admin/ledger/check", headers=operator_headers)
    assert r.status_code == 200, r.text
    assert r.json()["ok"], r.json()["violations"]
