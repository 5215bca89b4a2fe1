"""A standing order from the phone: set it up, move the sandbox clock a day, see the payment
it made and the balances move; cancel it, move the clock again, and nothing more is paid.

The sandbox clock only moves forward, so it is left where the test moved it (as the T+1
test in test_securities.py leaves it): every other test reads "today" from the clock."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.clock import BANK_TZ
from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def move_clock(gateway: httpx.AsyncClient, operator_headers: dict[str, str], seconds: float) -> date:
    """Move every process's sandbox clock forward; the bank day it now is."""
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": seconds}, headers=operator_headers)
    assert r.status_code == 200, r.text
    assert r.json()["services"]["payments"] == "ok", r.json()
    return datetime.fromisoformat(r.json()["now"]).astimezone(BANK_TZ).date()


async def funded(client: httpx.AsyncClient, amount: str) -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(client)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def runs(phone: Phone, schedule_id: str, n: int) -> dict[str, Any]:
    """The schedule once `n` of its runs have ended."""

    async def ended() -> dict[str, Any] | None:
        r = await phone.get(f"/v1/payments/schedules/{schedule_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        done = len(body["runs"]) == n and all(run["status"] != "pending" for run in body["runs"])
        return body if done else None

    return await eventually(ended, timeout_s=20)  # type: ignore[no-any-return]


async def test_a_daily_standing_order_pays_as_the_days_pass_until_cancelled(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, account = await funded(gateway, "100.00")
    payee, payee_account = await funded(gateway, "1.00")
    today = await move_clock(gateway, operator_headers, 0)
    body = {
        "payer_account_id": account["id"],
        "payee_account_id": payee_account["id"],
        "amount": "12.50",
        "note": "lunch money",
        "first_run_on": str(today + timedelta(days=1)),
        "repeat": "daily",
    }
    key = str(uuid.uuid4())

    r = await payer.post("/v1/payments/schedules", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["status"], order["next_run_on"], order["runs"]) == ("active", body["first_run_on"], [])
    again = await payer.post("/v1/payments/schedules", json=body, headers={"Idempotency-Key": key})
    assert again.json()["id"] == order["id"]
    listed = (await payer.get("/v1/payments/schedules")).json()["items"]
    assert [s["id"] for s in listed] == [order["id"]]
    assert (await payee.get(f"/v1/payments/schedules/{order['id']}")).status_code == 404

    await move_clock(gateway, operator_headers, 86_400)
    seen = await runs(payer, order["id"], 1)
    [run] = seen["runs"]
    assert (run["run_on"], run["status"]) == (body["first_run_on"], "completed")
    assert seen["next_run_on"] == str(today + timedelta(days=2))
    payment = (await payer.get(f"/v1/payments/{run['payment_id']}")).json()
    assert (payment["status"], payment["amount"], payment["note"]) == ("completed", "12.50", "lunch money")
    assert run["payment_id"] in [p["id"] for p in (await payer.get("/v1/payments")).json()["items"]]
    assert await payer.balance(account["id"]) == 100_00 - 12_50
    assert await payee.balance(payee_account["id"]) == 1_00 + 12_50

    cancelled = await payer.client.delete(f"/v1/payments/schedules/{order['id']}", headers=payer.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["next_run_on"]) == ("cancelled", None)
    await move_clock(gateway, operator_headers, 2 * 86_400)
    # A later order of the same payer, due now, runs: the runner has looked since the move.
    later = {**body, "first_run_on": str(today + timedelta(days=3)), "repeat": "none", "amount": "1.00"}
    r = await payer.post("/v1/payments/schedules", json=later, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    await runs(payer, r.json()["id"], 1)

    final = (await payer.get(f"/v1/payments/schedules/{order['id']}")).json()
    assert (final["status"], final["runs_made"], len(final["runs"])) == ("cancelled", 1, 1)
    assert await payer.balance(account["id"]) == 100_00 - 12_50 - 1_00
    assert await payee.balance(payee_account["id"]) == 1_00 + 12_50 + 1_00
