"""The AML module inside the accounts app, on a real broker and database: ledger facts in,
alerts out, and a fact delivered again counted once."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Envelope
from shared.events.topics import ACCOUNTS_EVENTS
from tests.integration.harness import Bank, _bearer, eventually, signed

ALERTS = "/v1/admin/compliance/alerts"


def reviewer(bank: Bank) -> dict[str, str]:
    return _bearer(bank.tokens.issue("compliance-tests", ["compliance"]))


async def alerts(bank: Bank, customer_id: str) -> list[dict[str, Any]]:
    r = await bank.http.get(ALERTS, params={"customer_id": customer_id}, headers=reviewer(bank))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def deliver_again(bank: Bank, fact: Envelope) -> None:
    """Put a fact accounts published back on its topic, as a broker redelivering it would."""
    value, key = fact.to_bytes(), fact.subject.encode()
    headers = [("type", fact.type.encode()), *signed(ACCOUNTS_EVENTS, key, value, "accounts")]
    await bank.producer.send_and_wait(ACCOUNTS_EVENTS, value, key=key, headers=headers)


async def test_a_cash_credit_of_50000_yuan_raises_a_large_value_alert(bank: Bank) -> None:
    customer, account_id = await bank.funded_account(50_000_00, kyc_class="II")

    async def raised() -> list[dict[str, Any]]:
        return await alerts(bank, customer.id)

    (alert,) = await eventually(raised, "a large-value alert")
    assert (alert["rule"], alert["account_id"], alert["total_minor"]) == ("large_cash", account_id, 50_000_00)


async def test_a_fact_delivered_again_counts_once(bank: Bank) -> None:
    customer, account_id = await bank.funded_account(45_000_00, kyc_class="II")
    second = await bank.fund(account_id, 46_000_00)
    # Counted twice, the second credit would make three deposits just under 50,000.00.
    await deliver_again(bank, second)
    await deliver_again(bank, second)
    await bank.fund(account_id, 1_71)  # a magic amount: a forced alert, after the rest

    async def marker() -> list[dict[str, Any]]:
        return [a for a in await alerts(bank, customer.id) if a["forced"]]

    await eventually(marker, "the forced alert")
    rules = sorted(a["rule"] for a in await alerts(bank, customer.id))
    assert rules == ["large_cash", "large_cash"]  # the day's 91,000.00, and the forced one


async def test_the_queue_needs_the_compliance_role(bank: Bank) -> None:
    assert (await bank.http.get(ALERTS, headers=bank.operator_headers)).status_code == 403
    assert (await bank.http.get(ALERTS, headers=bank.service_headers)).status_code == 403
