"""A freeze is checked where the ledger's rules move money: every hold and debit on a
frozen account is refused, and every credit to a fully frozen one."""

from __future__ import annotations

import pytest

from services.accounts import domain
from services.accounts.domain import Account, AccountFrozen, FreezeMode, Hold

LIMITS = domain.ClassLimits()


def customer(mode: FreezeMode | None, balance: int = 100_00) -> Account:
    return Account(
        id="acc-1",
        currency="CNY",
        balance_minor=balance,
        customer_id="cust-1",
        kyc_class=domain.KycClass.I,
        freeze_mode=mode,
        freeze_reason="court order 17" if mode else None,
    )


def internal() -> Account:
    return Account(id="internal:cash-in", currency="CNY", allow_overdraft=True)


def hold(amount: int = 10_00) -> Hold:
    return Hold(id="h-1", account_id="acc-1", amount_minor=amount, currency="CNY", counts_toward_limit=True)


@pytest.mark.parametrize("mode", [FreezeMode.FULL, FreezeMode.OUTFLOWS])
def test_a_frozen_account_refuses_a_hold_with_mode_and_reason(mode: FreezeMode) -> None:
    account = customer(mode)
    with pytest.raises(AccountFrozen) as refused:
        domain.reserve(account, hold(), outflow_today_minor=0, limits=LIMITS)
    assert refused.value.reason == "account_frozen"
    assert mode.value in refused.value.detail and "court order 17" in refused.value.detail
    assert account.held_minor == 0


@pytest.mark.parametrize("mode", [FreezeMode.FULL, FreezeMode.OUTFLOWS])
def test_a_frozen_account_refuses_a_transfer_out(mode: FreezeMode) -> None:
    source, target = customer(mode), Account(id="acc-2", currency="CNY", customer_id="cust-2")
    with pytest.raises(AccountFrozen):
        domain.transfer(source, target, 10_00, "CNY", outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)
    assert (source.balance_minor, target.balance_minor) == (100_00, 0)


def test_an_outflows_freeze_still_takes_money_in() -> None:
    target = customer(FreezeMode.OUTFLOWS)
    domain.credit(internal(), target, 5_00, "CNY", limits=LIMITS)
    assert target.balance_minor == 105_00


def test_a_full_freeze_refuses_money_in() -> None:
    target = customer(FreezeMode.FULL)
    with pytest.raises(AccountFrozen):
        domain.credit(internal(), target, 5_00, "CNY", limits=LIMITS)
    assert target.balance_minor == 100_00


def test_a_hold_placed_before_a_freeze_is_not_captured_after_it() -> None:
    source = customer(None)
    placed = hold()
    domain.reserve(source, placed, outflow_today_minor=0, limits=LIMITS)
    source.freeze_mode, source.freeze_reason = FreezeMode.OUTFLOWS, "court order 17"
    with pytest.raises(AccountFrozen):
        domain.capture(source, internal(), placed, None, limits=LIMITS)
    assert source.balance_minor == 100_00 and placed.status == domain.HoldStatus.ACTIVE


def test_an_unfrozen_account_moves_money_as_before() -> None:
    account = customer(None)
    domain.reserve(account, hold(), outflow_today_minor=0, limits=LIMITS)
    assert account.held_minor == 10_00
