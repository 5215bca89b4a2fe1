"""Insurance's sagas under the sandbox's faults: a premium purchase and a claim payout
each survive a lost message (the saga sends its step again once its deadline passes)
and a repeated one (the inboxes apply it once), whichever side sent it. Each ends
terminal, the money moved once, and the ledger check finds nothing wrong."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually
from tests.e2e.test_faults import fault
from tests.e2e.test_insurance import funded, reported

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

# Long enough for the message to be sent and lost, well short of the saga's step
# timeout (3 s on the session stack, BRISK_SAGAS), so the re-sent step finds the way clear.
DROP_S = 1.5
# The saga's deadline, a re-send and the answer, with room for a busy machine.
SETTLE_S = 45.0

FAULTS = [
    pytest.param("accounts", "drop", id="accounts-reply-dropped"),
    pytest.param("insurance", "drop", id="insurance-command-dropped"),
    pytest.param("accounts", "duplicate", id="accounts-reply-duplicated"),
    pytest.param("insurance", "duplicate", id="insurance-command-duplicated"),
]


async def start_fault(gateway: httpx.AsyncClient, operator: dict[str, str], service: str, mode: str) -> int:
    """Start the fault on `service`'s outgoing messages; returns its counter so far."""
    state = await fault(gateway, operator, service=service, mode=mode, duration_s=DROP_S if mode == "drop" else 30)
    assert state["mode"] == mode
    return int(state["dropped" if mode == "drop" else "duplicated"])


async def end_fault(gateway: httpx.AsyncClient, operator: dict[str, str], service: str, mode: str) -> int:
    state = await fault(gateway, operator, service=service, mode="none")
    return int(state["dropped" if mode == "drop" else "duplicated"])


async def quote(customer: Phone) -> dict[str, Any]:
    r = await customer.post(
        "/v1/insurance/quotes",
        json={"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def purchase(customer: Phone, quote_id: str, account_id: str) -> dict[str, Any]:
    r = await customer.post(
        "/v1/insurance/policies",
        json={"quote_id": quote_id, "account_id": account_id},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


async def settled(customer: Phone, policy_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        policy: dict[str, Any] = (await customer.get(f"/v1/insurance/policies/{policy_id}")).json()
        return policy if policy["status"] != "pending" else None

    return await eventually(probe, timeout_s=SETTLE_S, every_s=0.25)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("service", "mode"), FAULTS)
async def test_a_premium_purchase_survives_a_lost_or_repeated_message(
    customer: Phone, gateway: httpx.AsyncClient, operator_headers: dict[str, str], service: str, mode: str
) -> None:
    account_id = await funded(customer)
    offer = await quote(customer)

    before = await start_fault(gateway, operator_headers, service, mode)
    try:
        pending = await purchase(customer, offer["id"], account_id)
        policy = await settled(customer, pending["id"])
    finally:
        after = await end_fault(gateway, operator_headers, service, mode)

    assert after > before, f"the fault really hit {service}'s messages"
    assert policy["status"] == "active", policy
    assert policy["premium_payment"]["step"] == "done"
    assert [h["action"] for h in policy["history"]] == ["purchase_requested", "premium_reserved", "issued"]
    assert await customer.balance(account_id) == 1_000_00 - 60_00
    statement = (await customer.get(f"/v1/accounts/{account_id}/transactions")).json()["items"]
    premiums = [line for line in statement if line["counterparty_account_id"] == "internal:insurance-premiums"]
    assert [line["amount"] for line in premiums] == ["60.00"]  # taken once


@pytest.mark.parametrize(("service", "mode"), FAULTS)
async def test_a_claim_payout_survives_a_lost_or_repeated_message(
    customer: Phone, gateway: httpx.AsyncClient, operator_headers: dict[str, str], service: str, mode: str
) -> None:
    account_id = await funded(customer)
    policy = await settled(customer, (await purchase(customer, (await quote(customer))["id"], account_id))["id"])
    assert policy["status"] == "active", policy
    claim_id = await reported(customer, policy, "accidental_injury", "500.00")

    async def closed() -> dict[str, Any] | None:
        claim: dict[str, Any] = (await customer.get(f"/v1/insurance/claims/{claim_id}")).json()
        return claim if claim["status"] == "closed" else None

    before = await start_fault(gateway, operator_headers, service, mode)
    try:
        r = await customer.post(f"/v1/insurance/claims/{claim_id}/submit")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"  # below 1,000.00: approved at once, the payout starts
        claim = await eventually(closed, timeout_s=SETTLE_S, every_s=0.25)
    finally:
        after = await end_fault(gateway, operator_headers, service, mode)

    assert after > before, f"the fault really hit {service}'s messages"
    assert claim["payout"]["step"] == "done"
    assert [h["action"] for h in claim["history"]][-3:] == ["approved", "paid", "closed"]
    assert await customer.balance(account_id) == 1_000_00 - 60_00 + 500_00
    statement = (await customer.get(f"/v1/accounts/{account_id}/transactions")).json()["items"]
    payouts = [line for line in statement if line["counterparty_account_id"] == "internal:insurance-claims"]
    assert [line["amount"] for line in payouts] == ["500.00"]  # paid once
