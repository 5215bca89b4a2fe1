"""The sandbox clock: a standing order due tomorrow is paid once the clock moves a day.

The clock is the whole stack's and only moves forward, so tests read "today" from it
rather than from their own machine's clock."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sandbank_testing import Customer, Sandbank, eventually


def test_a_standing_order_pays_when_its_day_comes(
    sandbank: Sandbank, sandbank_customer: Customer, friend: Customer
) -> None:
    tomorrow = str(sandbank.clock.bank_day() + timedelta(days=1))
    r = sandbank_customer.client.post(
        "/v1/payments/schedules",
        json={
            "payer_account_id": sandbank_customer.checking,
            "payee_account_id": friend.checking,
            "amount": "25.00",
            "first_run_on": tomorrow,
            "repeat": "none",
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert friend.balance() == 0

    sandbank.clock.advance(days=1)

    def paid() -> dict | None:
        runs = sandbank_customer.client.get(f"/v1/payments/schedules/{order['id']}").json()["runs"]
        return runs[0] if runs and runs[0]["status"] != "pending" else None

    run = eventually(paid, timeout_s=30)
    assert (run["run_on"], run["status"]) == (tomorrow, "completed")
    assert friend.balance() == 25_00
