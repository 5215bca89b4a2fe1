"""Faults: while accounts drops every message it sends, a payment cannot hear back; the
bank re-sends its steps, and once the fault is over the payment completes. The `with`
block clears the fault however the test ends."""

from __future__ import annotations

from wallet import Wallet

from sandbank_testing import Customer, Sandbank


def test_a_payment_survives_dropped_messages(
    sandbank: Sandbank, wallet: Wallet, sandbank_customer: Customer, friend: Customer
) -> None:
    with sandbank.fault("accounts", "drop", seconds=3):
        started = sandbank_customer.transfer("10.00", to_account=friend.checking)
        assert [f["mode"] for f in sandbank.faults() if f["service"] == "accounts"] == ["drop"]

    payment = sandbank_customer.payment(started["id"], timeout_s=45)

    assert payment["status"] == "completed"
    assert friend.balance() == 10_00
    assert [f["mode"] for f in sandbank.faults() if f["service"] == "accounts"] == ["none"]
