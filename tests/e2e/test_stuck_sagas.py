"""Stuck is visible: a saga past its deadline is listed in GET /v1/admin/sagas/stuck, and
the ledger check reports the hold it keeps, long before the hold is 600 s old. A healthy
stack lists none, and its ledger check asks every hold's owner about its saga."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_of, operator_login
from tests.e2e.phone import Phone, eventually, register_and_login
from tests.e2e.test_faults import fault
from tests.e2e.test_insurance import funded
from tests.e2e.test_insurance_faults import purchase, quote
from tools.stack import Stack

pytestmark = pytest.mark.e2e

SERVICES = ["accounts", "payments", "securities", "insurance"]
GRACE = {"grace_s": 1}


@pytest.fixture
async def stalled_stack(side_stack: Stack) -> AsyncIterator[Stack]:
    """The side stack, whose insurance sweeper wakes once an hour (conftest's
    STALLED_INSURANCE), reset after the test: the premium it leaves stuck keeps its hold,
    which the ledger checks of the stack's other tests would find."""
    yield side_stack
    async with client_of(side_stack) as gateway:
        r = await gateway.post("/v1/sandbox/reset", headers=await operator_login(gateway))
        assert r.status_code == 200, r.text


def stuck_of(listing: dict[str, Any], service: str) -> list[dict[str, Any]]:
    (found,) = [s for s in listing["services"] if s["service"] == service]
    return [saga for kind in found["kinds"] for saga in kind["items"]]


async def test_a_premium_whose_answer_was_lost_is_listed_stuck_and_the_ledger_check_reports_its_hold(
    stalled_stack: Stack,
) -> None:
    async with client_of(stalled_stack) as gateway:
        operator = await operator_login(gateway)
        customer = await register_and_login(gateway)
        account_id = await funded(customer)
        offer = await quote(customer)
        # accounts takes the hold, but its FundsReserved never reaches insurance.
        await fault(gateway, operator, service="accounts", mode="drop", duration_s=3)
        policy = await purchase(customer, offer["id"], account_id)
        hold_id = f"ins-premium-{policy['id']}"

        async def listed() -> dict[str, Any] | None:
            r = await gateway.get("/v1/admin/sagas/stuck", headers=operator, params=GRACE)
            assert r.status_code == 200, r.text
            return r.json() if any(s["hold_id"] == hold_id for s in stuck_of(r.json(), "insurance")) else None

        listing = await eventually(listed, timeout_s=30, every_s=0.5)

        assert listing["unavailable"] == []
        assert sorted(s["service"] for s in listing["services"]) == sorted(SERVICES)
        (saga,) = [s for s in stuck_of(listing, "insurance") if s["hold_id"] == hold_id]
        assert (saga["kind"], saga["id"], saga["step"], saga["outcome"]) == ("premium", hold_id, "reserve", None)
        assert saga["overdue_s"] >= 1 and saga["correlation_id"]
        assert listing["total"] >= 1

        async def reported() -> dict[str, Any] | None:
            r = await gateway.get("/v1/admin/ledger/check", headers=operator, params=GRACE)
            assert r.status_code == 200, r.text
            return r.json() if not r.json()["ok"] else None

        check = await eventually(reported, timeout_s=30, every_s=0.5)
        rules = {(v["rule"], v["account_id"]) for v in check["violations"] if hold_id in v["detail"]}
        assert rules == {("hold_saga_within_deadline", account_id)}, check["violations"]
        # The hold is seconds old: the age rule (600 s) has nothing to say yet.
        assert all(v["rule"] != "hold_belongs_to_live_saga" for v in check["violations"]), check["violations"]
        assert check["owners_unavailable"] == [] and check["holds_with_saga_checked"] >= 1
        premium = (await customer.get(f"/v1/insurance/policies/{policy['id']}")).json()
        assert premium["status"] == "pending"


async def test_a_healthy_stack_lists_no_stuck_saga_and_its_holds_belong_to_live_sagas(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], customer: Phone
) -> None:
    account = await customer.open_account()
    await customer.settled((await customer.deposit(account["id"], "50.00"))["id"])

    r = await gateway.get("/v1/admin/sagas/stuck", headers=operator_headers)
    assert r.status_code == 200, r.text
    listing = r.json()
    assert (listing["total"], listing["unavailable"]) == (0, []), listing
    assert sorted(s["service"] for s in listing["services"]) == sorted(SERVICES)
    assert all(s["kinds"] == [] and s["grace_s"] == 5.0 for s in listing["services"])

    r = await gateway.get("/v1/admin/ledger/check", headers=operator_headers)
    assert r.status_code == 200, r.text
    check = r.json()
    assert check["ok"], check["violations"]
    assert (check["owners_unavailable"], check["saga_grace_s"]) == ([], 5.0)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/admin/sagas/stuck", {"grace_s": -1}),
        ("/v1/admin/sagas/stuck", {"limit": 0}),
        ("/v1/admin/ledger/check", {"grace_s": "soon"}),
    ],
)
async def test_bad_parameters_are_a_422(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    r = await gateway.get(path, headers=operator_headers, params=params)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text


async def test_stuck_sagas_are_for_operators_only(customer: Phone) -> None:
    r = await customer.get("/v1/admin/sagas/stuck")
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
