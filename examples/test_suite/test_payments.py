"""Money moving, and a payment the bank refuses: the magic amount 666.66 is rejected by
the risk check after the funds were held (docs/sandbox.md lists every magic value)."""

from __future__ import annotations

from wallet import Wallet

from sandbank_testing import Customer, Sandbank


def test_a_transfer_moves_the_money(wallet: Wallet, sandbank_customer: Customer, friend: Customer) -> None:
    outcome = wallet.pay(sandbank_customer.checking, friend.checking, "88.80")

    assert outcome.status == "completed"
    assert sandbank_customer.balance() == 1_000_00 - 88_80  # fen
    assert friend.balance() == 88_80


def test_a_bill_is_split_evenly(
    wallet: Wallet, sandbank_customer: Customer, friend: Customer, sandbank: Sandbank
) -> None:
    other = sandbank.new_customer(deposit="")
    try:
        outcomes = wallet.split_bill(sandbank_customer.checking, {"a": friend.checking, "b": other.checking}, "99.00")

        assert [o.status for o in outcomes] == ["completed", "completed"]
        assert friend.balance() == other.balance() == 49_50
    finally:
        other.close()


def test_the_magic_amount_is_refused_and_nothing_moves(
    wallet: Wallet, sandbank_customer: Customer, friend: Customer
) -> None:
    outcome = wallet.pay(sandbank_customer.checking, friend.checking, "666.66")

    assert (outcome.status, outcome.reason) == ("failed", "risk_rejected")
    assert sandbank_customer.balance() == 1_000_00
    assert friend.balance() == 0
