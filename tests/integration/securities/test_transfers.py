"""Bank-securities transfers: one TransferFunds through accounts, answered as a saga."""

from __future__ import annotations

import uuid

import pytest

from shared.events import accounts as acc
from shared.events import securities as ev
from tests.integration.securities.harness import Brokerage

pytestmark = pytest.mark.broker


async def test_cash_moves_to_the_securities_account_and_back(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(0, checking_minor=10_000_00, kyc_class="II")
    r = await brokerage.transfer(investor, {"from": "bank", "amount": "6000.00"})
    assert r.status_code == 202, r.text
    assert (r.json()["status"], r.json()["direction"]) == ("pending", "bank_to_securities")
    assert r.headers["location"] == f"/v1/securities/transfers/{r.json()['id']}"
    done = await brokerage.transfer_settled(investor, r.json()["id"])
    assert done["status"] == "completed"
    assert (done["from_account_id"], done["to_account_id"]) == (investor.checking_id, investor.securities_id)
    assert await brokerage.cash(investor.checking_id) == (4_000_00, 0)
    assert await brokerage.cash(investor.securities_id) == (6_000_00, 0)

    back = await brokerage.transfer(investor, {"from": "securities", "amount": "1500.50"})
    assert back.status_code == 202, back.text
    assert (await brokerage.transfer_settled(investor, back.json()["id"]))["status"] == "completed"
    assert await brokerage.cash(investor.checking_id) == (5_500_50, 0)
    assert await brokerage.cash(investor.securities_id) == (4_499_50, 0)

    # The customer's own money: a class II daily limit does not apply (it is 10,000.00).
    command = next(c for c in brokerage.commands(investor.checking_id) if c.type == acc.TransferFunds.TYPE)
    assert command.data["counts_toward_limit"] is False
    events = brokerage.events(r.json()["id"])
    assert [e.type for e in events] == [ev.BankTransferRequested.TYPE, ev.BankTransferCompleted.TYPE]
    listed = await brokerage.http.get("/v1/securities/transfers", headers=investor.headers)
    assert [t["id"] for t in listed.json()["items"]] == [back.json()["id"], r.json()["id"]]


async def test_a_transfer_beyond_the_balance_fails_with_accounts_reason(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(100_00, checking_minor=100_00)
    r = await brokerage.transfer(investor, {"from": "securities", "amount": "100.01"})
    assert r.status_code == 202, r.text
    failed = await brokerage.transfer_settled(investor, r.json()["id"])
    assert (failed["status"], failed["reason"]) == ("failed", "insufficient_funds")
    assert await brokerage.cash(investor.securities_id) == (100_00, 0)
    assert (await brokerage.event(r.json()["id"], ev.BankTransferFailed.TYPE)).data["reason"] == "insufficient_funds"


async def test_a_repeated_key_returns_the_same_transfer(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(0, checking_minor=1_000_00)
    key = str(uuid.uuid4())
    first = await brokerage.transfer(investor, {"from": "bank", "amount": "300.00"}, key=key)
    again = await brokerage.transfer(investor, {"from": "bank", "amount": "300.00"}, key=key)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"] == first.json()["links"]["self"]
    await brokerage.transfer_settled(investor, first.json()["id"])
    assert await brokerage.cash(investor.securities_id) == (300_00, 0)


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"from": "bank", "amount": "0.00"}, 422, "invalid-amount"),
        ({"from": "bank", "amount": "1.001"}, 422, "invalid-amount"),
        ({"from": "bank", "amount": "-5"}, 422, "invalid-amount"),
        ({"from": "nowhere", "amount": "5.00"}, 422, "validation-error"),
        ({"from": "bank", "amount": "5.00", "currency": "USD"}, 422, "validation-error"),
        ({"from": "bank", "amount": "5.00", "bank_account_id": "no-such-account"}, 404, "not-found"),
    ],
)
async def test_bad_transfers_are_refused(brokerage: Brokerage, body: dict, status: int, problem: str) -> None:
    investor = await brokerage.investor(0, checking_minor=1_000_00)
    r = await brokerage.transfer(investor, body)
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith(f"/{problem}")
    listed = await brokerage.http.get("/v1/securities/transfers", headers=investor.headers)
    assert listed.json()["items"] == []
    assert await brokerage.cash(investor.checking_id) == (1_000_00, 0)


async def test_a_transfer_needs_a_securities_account(brokerage: Brokerage) -> None:
    customer, _checking = await brokerage.bank.funded_account(1_000_00)
    r = await brokerage.http.post(
        "/v1/securities/transfers", json={"from": "bank", "amount": "5.00"}, headers=customer.headers
    )
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/no-securities-account")
