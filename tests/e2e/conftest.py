"""The whole stack as processes (broker, services, gateway), driven over real HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.sandbox import OPERATOR
from tests.e2e.phone import Phone, register_and_login
from tools.stack import Stack

pytestmark = pytest.mark.e2e

# pytest for a suite of Sandbank's users (examples/) in a process of its own, without the
# plugins this project's tests bring that no such suite uses: hypothesis and schemathesis
# take seconds to import, in every xdist worker again.
SUITE_PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider")
SUITE_PYTEST += ("-p", "no:hypothesispytest", "-p", "no:schemathesis", "-p", "no:anyio")


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


# The stacks the whole session shares, by fixture name: each runs from the first test that
# asks for it to the last, then stops (`pytest_runtest_teardown` below), so that no idle
# stack takes the machine from the tests after it.
SESSION_STACKS = ("stack", "stepup_stack", "side_stack")
# The session stacks whose users run one after another, so that each runs only while they do.
GROUPED_STACKS = ("stepup_stack", "side_stack")
_running: dict[str, Stack] = {}
_last_user: dict[str, list[str]] = {}  # a test's node id: the session stacks it is the last to use

# The session stack's saga steps are re-sent after 3 s rather than the default 5 s (then 6,
# 9, 12, 12 ... s): the tests of lost messages wait for those re-sends, a dozen times a
# run. Three seconds stays longer than the drops those tests set (at most 3 s), so the
# first re-send finds the way clear, and a reservation still waits 42 s (securities,
# insurance) or 54 s (payments) before giving up. The module stacks keep the defaults.
BRISK_SAGAS = {f"{service}_STEP_TIMEOUT_S": "3" for service in ("PAYMENTS", "SECURITIES", "INSURANCE")}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory, env=BRISK_SAGAS) as running:
        _running["stack"] = running
        yield running


@pytest.fixture(scope="session")
def stepup_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose payments asks for one-time codes at the default amounts (5,000.00, and
    1,000.00 for a transfer to a new payee): payments decides step-up, after validating a
    payment. Started only for the tests of step-up, which ask for it."""
    with running_stack(tmp_path_factory, "stepup-stack", step_up=True) as running:
        _running["stepup_stack"] = running
        yield running


# An insurance sweeper that wakes once an hour, with a one-second step deadline: a premium
# whose answer from accounts is lost stays past its deadline, as it would with a sweeper
# that has stopped (tests/e2e/test_stuck_sagas.py).
STALLED_INSURANCE = {"INSURANCE_SWEEP_EVERY_S": "3600", "INSURANCE_STEP_TIMEOUT_S": "1"}
# Every Wednesday for two years from today: the exchange holidays of the side stack's
# A-share market (tests/e2e/test_brokerage_calendar.py).
A_SHARE_HOLIDAYS = [d for d in (date.today() + timedelta(days=n) for n in range(2 * 366)) if d.weekday() == 2]
A_SHARE_MARKET = {
    "SECURITIES_HOURS_MODE": "a_share",
    "SECURITIES_HOLIDAYS": json.dumps([d.isoformat() for d in A_SHARE_HOLIDAYS]),
}

# Every claim-fraud rule on, the early and frequent claim rules (off by default) at an
# insurer's usual 30 days and 3 claims in 90 (tests/e2e/test_claim_fraud.py).
EVERY_FRAUD_RULE = {"INSURANCE_FRAUD_EARLY_CLAIM_DAYS": "30", "INSURANCE_FRAUD_FREQUENT_CLAIMS": "3"}


@pytest.fixture(scope="session")
def side_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the tests that may not run on the session stack, one module after
    another, instead of a stack per module (a start costs 10-20 s): a reset (it forgets
    every customer), a broker taken away, a stalled insurance sweeper, A-share market
    hours, every claim-fraud rule. No test of the others reaches the settings one of them
    needs (none of them loses a claim's message or claims but the fraud tests); the test
    that leaves a saga stuck resets the stack after it, and the others check the ledger,
    not a fresh stack."""
    env = {**STALLED_INSURANCE, **A_SHARE_MARKET, **EVERY_FRAUD_RULE}
    with running_stack(tmp_path_factory, "side-stack", env=env) as running:
        _running["side_stack"] = running
        yield running


def _session_stacks_of(item: pytest.Item) -> set[str]:
    """The session stacks a test uses: this module's fixtures of that name, not a test
    module's own fixture that takes the name (tests/e2e/test_stepup.py: its `stack`)."""
    defs = getattr(item, "_fixtureinfo", None)
    if defs is None:
        return set()
    return {
        name
        for name in SESSION_STACKS
        if name in item.fixturenames and defs.name2fixturedefs[name][-1].func.__module__ == __name__
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the e2e modules that use a session stack first and those with stacks of their
    own only after them, and the users of `stepup_stack` (and of `side_stack`) one after
    another, each otherwise in its usual order: a session stack then runs only while its
    tests do. A module moves whole, so its module-scoped stack still starts once."""
    here = Path(__file__).parent
    e2e = [i for i, item in enumerate(items) if here in item.path.parents]
    modules: dict[Path, list[pytest.Item]] = {}
    for i in e2e:
        modules.setdefault(items[i].path, []).append(items[i])
    uses = {path: set().union(*(_session_stacks_of(t) for t in tests)) for path, tests in modules.items()}
    order = list(modules)
    first_user = {name: next((n for n, path in enumerate(order) if name in uses[path]), 0) for name in GROUPED_STACKS}

    def place(n: int) -> tuple[bool, int, int]:
        path = order[n]
        together = next((first_user[name] for name in GROUPED_STACKS if name in uses[path]), n)
        return (not uses[path], together, n)

    moved = [test for n in sorted(range(len(order)), key=place) for test in modules[order[n]]]
    for i, test in zip(e2e, moved, strict=True):
        items[i] = test


def pytest_collection_finish(session: pytest.Session) -> None:
    last = {name: item.nodeid for item in session.items for name in _session_stacks_of(item)}
    _last_user.clear()
    for name, nodeid in last.items():
        _last_user.setdefault(nodeid, []).append(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """After the last test of a session stack (and its module's fixtures) is torn down,
    stop that stack; the fixture's own teardown at the session's end finds it stopped."""
    try:
        return (yield)
    finally:
        for name in _last_user.get(item.nodeid, []):
            if (running := _running.pop(name, None)) is not None:
                running.stop()


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
