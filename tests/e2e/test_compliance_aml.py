"""AML monitoring through the gateway of a running stack: customers move money as a phone
does (sandbox deposits, transfers, the sandbox clock), accounts' AML module raises
large-value and suspicious-transaction alerts from the ledger's facts, and a reviewer
with the compliance role takes each one and closes it. The ledger balances throughout.

The sandbox clock only moves forward, so the dormant-account test leaves it where it
moved it (as test_insurance_lifecycle.py does): no other test here reads the date."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from shared.sandbox import DEMO_CUSTOMERS
from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

ALERTS = "/v1/admin/compliance/alerts"
DAY_S = 86_400


async def funded(gateway: httpx.AsyncClient, amount: str | None = None) -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    if amount is not None:
        await deposit(phone, account, amount)
    return phone, account


async def deposit(phone: Phone, account: dict[str, Any], amount: str) -> None:
    settled = await phone.settled((await phone.deposit(account["id"], amount))["id"])
    assert settled["status"] == "completed", settled


async def transfer(payer: Phone, source: dict[str, Any], target: dict[str, Any], amount: str) -> None:
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text

    async def done() -> dict[str, Any] | None:
        body = (await payer.get(f"/v1/payments/{r.json()['id']}")).json()
        return body if body["status"] != "pending" else None

    outcome = await eventually(done)
    assert outcome["status"] == "completed", outcome


async def alerts_of(
    gateway: httpx.AsyncClient, ops: dict[str, str], customer_id: str, **params: str
) -> list[dict[str, Any]]:
    r = await gateway.get(ALERTS, params={"customer_id": customer_id, **params}, headers=ops)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def alert_raised(gateway: httpx.AsyncClient, ops: dict[str, str], customer_id: str, rule: str) -> dict[str, Any]:
    """The customer's alert of `rule`, once the AML module has read the ledger's facts."""

    async def raised() -> dict[str, Any] | None:
        found = await alerts_of(gateway, ops, customer_id, kind=rule)
        return found[0] if found else None

    found: dict[str, Any] = await eventually(raised)
    return found


async def close(
    gateway: httpx.AsyncClient, ops: dict[str, str], alert: dict[str, Any], decision: str, note: str
) -> dict[str, Any]:
    """Take the alert for review, then decide it."""
    r = await gateway.post(f"{ALERTS}/{alert['id']}/review", headers=ops)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "under_review"
    r = await gateway.post(f"{ALERTS}/{alert['id']}/decision", json={"decision": decision, "note": note}, headers=ops)
    assert r.status_code == 200, r.text
    closed: dict[str, Any] = r.json()
    assert closed["status"] == decision
    assert closed["decision_note"] == note
    return closed


async def test_a_cash_deposit_of_50000_yuan_is_reported_as_a_large_value_transaction(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway, "50000.00")
    alert = await alert_raised(gateway, operator_headers, phone.customer_id, "large_cash")
    assert alert["category"] == "large_value"
    assert alert["status"] == "open"
    assert alert["total"] == "50000.00"
    assert not alert["forced"]
    assert [(m["kind"], m["direction"], m["amount"]) for m in alert["evidence"]] == [("cash_deposit", "in", "50000.00")]
    assert alert["evidence"][0]["account_id"] == account["id"]

    closed = await close(gateway, operator_headers, alert, "reported", "cash deposit at the threshold")
    assert closed["report_id"]
    r = await gateway.get(
        "/v1/admin/compliance/reports", params={"customer_id": phone.customer_id}, headers=operator_headers
    )
    assert r.status_code == 200, r.text
    (report,) = r.json()["items"]
    assert (report["id"], report["kind"], report["rule"], report["total"]) == (
        closed["report_id"],
        "large_value",
        "large_cash",
        "50000.00",
    )


async def test_transfers_of_500000_yuan_in_a_day_are_reported_for_payer_and_payee(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    # Only a class I customer may pay this much in a day: the demo's Li Wei.
    li_wei = DEMO_CUSTOMERS[0]
    r = await gateway.post("/v1/auth/login", json={"phone": li_wei.phone, "password": li_wei.password})
    assert r.status_code == 200, r.text
    payer = Phone(gateway, li_wei.id, li_wei.phone, li_wei.password, r.json())
    source = {"id": li_wei.accounts[0].id}
    await deposit(payer, source, "500000.00")
    payee, target = await funded(gateway)
    # A first payment to a payee must be small (the new-payee rule), and one payment of
    # class I at most 50,000.00: the day's sum is what counts.
    amounts = ["5000.00", *["50000.00"] * 9, "45000.00"]
    for amount in amounts:
        await transfer(payer, source, target, amount)

    alert = await alert_raised(gateway, operator_headers, payee.customer_id, "large_transfer")
    assert alert["total"] == "500000.00"
    assert [m["amount"] for m in alert["evidence"]] == amounts
    assert {m["direction"] for m in alert["evidence"]} == {"in"}
    assert {m["counterparty_customer_id"] for m in alert["evidence"]} == {li_wei.id}
    paid_out = await alerts_of(gateway, operator_headers, li_wei.id, kind="large_transfer")
    assert any(a["evidence"][-1]["direction"] == "out" and a["total_minor"] >= 500_000_00 for a in paid_out)
    await close(gateway, operator_headers, alert, "dismissed", "salary of a known customer")


async def test_deposits_split_just_under_50000_yuan_are_structuring(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway)
    for amount in ("45000.00", "46000.00", "47000.00"):
        await deposit(phone, account, amount)
    alert = await alert_raised(gateway, operator_headers, phone.customer_id, "structuring")
    assert alert["category"] == "suspicious"
    assert [m["amount"] for m in alert["evidence"]] == ["45000.00", "46000.00", "47000.00"]
    closed = await close(gateway, operator_headers, alert, "reported", "three deposits each under the report")
    r = await gateway.get(
        "/v1/admin/compliance/reports",
        params={"customer_id": phone.customer_id, "kind": "suspicious"},
        headers=operator_headers,
    )
    assert [x["id"] for x in r.json()["items"]] == [closed["report_id"]]


async def test_money_in_and_out_again_within_a_day_is_rapid_in_and_out(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway, "10000.00")
    _, other = await funded(gateway)
    # A class II customer pays at most 10,000.00 a day, and at most 5,000.00 to a new payee.
    await transfer(phone, account, other, "4500.00")
    await transfer(phone, account, other, "4600.00")
    alert = await alert_raised(gateway, operator_headers, phone.customer_id, "rapid_in_out")
    assert [(m["direction"], m["amount"]) for m in alert["evidence"]] == [
        ("in", "10000.00"),
        ("out", "4500.00"),
        ("out", "4600.00"),
    ]
    await close(gateway, operator_headers, alert, "dismissed", "paying rent from a new account")


async def test_many_payers_into_one_account_within_a_day(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payee, target = await funded(gateway)
    payers = await asyncio.gather(*(funded(gateway, "100.00") for _ in range(5)))
    for payer, source in payers:
        await transfer(payer, source, target, "20.00")
    alert = await alert_raised(gateway, operator_headers, payee.customer_id, "many_payers")
    assert {m["counterparty_customer_id"] for m in alert["evidence"]} == {p.customer_id for p, _ in payers}
    await close(gateway, operator_headers, alert, "reported", "a collection account for strangers")


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        ("100.71", "large_cash"),
        ("100.72", "large_transfer"),
        ("100.73", "structuring"),
        ("100.74", "rapid_in_out"),
        ("100.75", "dormant"),
        ("100.76", "many_payers"),
    ],
)
async def test_a_magic_amount_forces_its_alert(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], amount: str, rule: str
) -> None:
    phone, _ = await funded(gateway, amount)
    alert = await alert_raised(gateway, operator_headers, phone.customer_id, rule)
    assert alert["forced"]
    assert [m["amount"] for m in alert["evidence"]] == [amount]
    await close(gateway, operator_headers, alert, "dismissed", "sandbox magic value")


async def test_a_magic_transfer_raises_on_the_payers_side(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer, source = await funded(gateway, "1000.00")
    payee, target = await funded(gateway)
    await transfer(payer, source, target, "20.74")
    alert = await alert_raised(gateway, operator_headers, payer.customer_id, "rapid_in_out")
    assert alert["forced"] and alert["evidence"][0]["direction"] == "out"
    assert await alerts_of(gateway, operator_headers, payee.customer_id) == []


async def test_a_duplicated_ledger_fact_counts_once(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway)
    r = await gateway.post(
        "/v1/sandbox/faults",
        json={"service": "accounts", "mode": "duplicate", "duration_s": 30},
        headers=operator_headers,
    )
    assert r.status_code == 200, r.text
    try:
        await deposit(phone, account, "30000.00")  # twice would pass the 50,000.00 of a day
        await deposit(phone, account, "1.71")  # after it on the same partition: a forced alert as a marker
        marker = await alert_raised(gateway, operator_headers, phone.customer_id, "large_cash")
    finally:
        await gateway.post("/v1/sandbox/faults", json={"service": "accounts", "mode": "none"}, headers=operator_headers)
    assert marker["forced"], marker
    assert len(await alerts_of(gateway, operator_headers, phone.customer_id)) == 1


async def test_the_queue_takes_an_alert_once_and_decides_it_once(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, _ = await funded(gateway, "100.71")
    alert = await alert_raised(gateway, operator_headers, phone.customer_id, "large_cash")
    url = f"{ALERTS}/{alert['id']}"
    undecided = await gateway.post(
        f"{url}/decision", json={"decision": "reported", "note": "x"}, headers=operator_headers
    )
    assert undecided.status_code == 409 and undecided.json()["type"].endswith("alert-not-under-review")
    assert (await gateway.post(f"{url}/review", headers=operator_headers)).status_code == 200
    assert (await gateway.post(f"{url}/review", headers=operator_headers)).status_code == 200  # one's own again
    bad = await gateway.post(f"{url}/decision", json={"decision": "maybe", "note": "x"}, headers=operator_headers)
    assert bad.status_code == 422
    await gateway.post(f"{url}/decision", json={"decision": "dismissed", "note": "test"}, headers=operator_headers)
    again = await gateway.post(f"{url}/decision", json={"decision": "reported", "note": "x"}, headers=operator_headers)
    assert again.status_code == 409
    taken = await gateway.post(f"{url}/review", headers=operator_headers)
    assert taken.status_code == 409 and taken.json()["type"].endswith("alert-taken")
    shown = (await gateway.get(url, headers=operator_headers)).json()
    assert (shown["status"], shown["decided_by"], shown["report_id"]) == ("dismissed", shown["reviewer"], None)
    assert (await gateway.get(f"{ALERTS}/{uuid.uuid4()}", headers=operator_headers)).status_code == 404


async def test_only_the_compliance_role_sees_the_queue(gateway: httpx.AsyncClient, customer: Phone) -> None:
    assert (await customer.get(ALERTS)).status_code == 403
    assert (await gateway.get(ALERTS)).status_code == 401


async def test_the_queue_pages_and_filters(gateway: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    phone, account = await funded(gateway, "100.71")
    await deposit(phone, account, "100.73")
    await alert_raised(gateway, operator_headers, phone.customer_id, "structuring")
    first = await gateway.get(ALERTS, params={"customer_id": phone.customer_id, "limit": 1}, headers=operator_headers)
    assert first.status_code == 200, first.text
    assert first.json()["items"][0]["rule"] == "structuring"
    cursor = first.json()["next_cursor"]
    second = await gateway.get(
        ALERTS, params={"customer_id": phone.customer_id, "limit": 1, "cursor": cursor}, headers=operator_headers
    )
    assert [a["rule"] for a in second.json()["items"]] == ["large_cash"]
    assert second.json()["next_cursor"] is None
    assert (await alerts_of(gateway, operator_headers, phone.customer_id, status="reported")) == []
    assert (await gateway.get(ALERTS, params={"status": "closed"}, headers=operator_headers)).status_code == 422
    assert (await gateway.get(ALERTS, params={"cursor": "bm90IG91cnM"}, headers=operator_headers)).status_code == 400


async def test_a_dormant_account_woken_by_a_large_deposit(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    phone, account = await funded(gateway, "100.00")
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 181 * DAY_S}, headers=operator_headers)
    assert r.status_code == 200, r.text
    await deposit(phone, account, "10000.00")
    alert = await alert_raised(gateway, operator_headers, phone.customer_id, "dormant")
    assert [m["amount"] for m in alert["evidence"]] == ["10000.00"]
    assert "181 days" in alert["detail"]
    await close(gateway, operator_headers, alert, "dismissed", "back from abroad")
