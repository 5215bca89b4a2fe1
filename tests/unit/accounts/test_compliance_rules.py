"""The AML rules over lists of movements (services/accounts/compliance/rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from services.accounts.compliance.handlers import kind_of
from services.accounts.compliance.rules import (
    Direction,
    History,
    Kind,
    Movement,
    Rule,
    Thresholds,
    evaluate,
    forced_rule,
)

T = Thresholds()
# 10:00 in Beijing: a bank day has room on both sides.
NOON = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
YUAN = 100
_ids = count(1)


def move(
    amount_yuan: float,
    *,
    kind: Kind = Kind.CASH_DEPOSIT,
    direction: Direction = Direction.IN,
    at: datetime = NOON,
    account: str = "acc-1",
    customer: str = "cust-1",
    other_customer: str | None = None,
    other_account: str = "internal:cash-in",
    currency: str = "CNY",
) -> Movement:
    return Movement(
        id=f"m{next(_ids)}",
        at=at,
        account_id=account,
        customer_id=customer,
        direction=direction,
        kind=kind,
        amount_minor=round(amount_yuan * YUAN),
        currency=currency,
        counterparty_account_id=other_account,
        counterparty_customer_id=other_customer,
    )


def transfer_out(amount_yuan: float, *, at: datetime = NOON, to: str = "cust-2", account: str = "acc-1") -> Movement:
    return move(
        amount_yuan,
        kind=Kind.TRANSFER,
        direction=Direction.OUT,
        at=at,
        other_customer=to,
        other_account=f"acc-of-{to}",
        account=account,
    )


def transfer_in(amount_yuan: float, *, at: datetime = NOON, payer: str = "cust-2") -> Movement:
    return move(
        amount_yuan,
        kind=Kind.TRANSFER,
        direction=Direction.IN,
        at=at,
        other_customer=payer,
        other_account=f"acc-of-{payer}",
    )


def rules_of(new: Movement, history: History | None = None, *, sandbox: bool = False) -> set[Rule]:
    return {f.rule for f in evaluate(new, history or History(), T, sandbox=sandbox)}


# --- large-value reports --------------------------------------------------------------


def test_a_cash_deposit_of_50000_yuan_is_a_large_value_report() -> None:
    found = evaluate(move(50_000), History(), T, sandbox=False)
    assert [f.rule for f in found] == [Rule.LARGE_CASH]
    assert found[0].total_minor == 50_000 * YUAN


def test_a_cash_deposit_just_under_50000_yuan_is_not() -> None:
    assert Rule.LARGE_CASH not in rules_of(move(49_999.99))


def test_cash_deposits_summing_to_50000_in_one_bank_day_are_reported_with_each_deposit() -> None:
    earlier = [move(20_000), move(20_000, at=NOON + timedelta(hours=1))]
    new = move(10_000, at=NOON + timedelta(hours=2))
    (found,) = [f for f in evaluate(new, History(earlier), T, sandbox=False) if f.rule is Rule.LARGE_CASH]
    assert [m.id for m in found.movements] == [*(m.id for m in earlier), new.id]


def test_cash_on_the_previous_bank_day_does_not_count() -> None:
    yesterday = move(40_000, at=NOON - timedelta(days=1))
    assert Rule.LARGE_CASH not in rules_of(move(20_000), History([yesterday]))


def test_the_daily_cash_report_keeps_one_key_for_the_day() -> None:
    first = evaluate(move(60_000), History(), T, sandbox=False)[0]
    again = evaluate(move(1_000, at=NOON + timedelta(hours=1)), History(list(first.movements)), T, sandbox=False)
    assert [f.key for f in again if f.rule is Rule.LARGE_CASH] == [first.key]


def test_transfers_out_of_500000_yuan_in_a_day_are_a_large_value_report() -> None:
    assert Rule.LARGE_TRANSFER in rules_of(transfer_out(300_000), History([transfer_out(200_000)]))
    assert Rule.LARGE_TRANSFER not in rules_of(transfer_out(299_999), History([transfer_out(200_000)]))


def test_moves_between_a_customers_own_accounts_are_no_transfer() -> None:
    own = move(600_000, kind=Kind.SECURITIES, direction=Direction.OUT, other_customer="cust-1", other_account="acc-2")
    assert rules_of(own) == set()


def test_other_currencies_are_not_measured_against_yuan_thresholds() -> None:
    assert rules_of(move(80_000, currency="USD")) == set()


def test_the_thresholds_are_settings() -> None:
    low = Thresholds(large_cash_minor=1_000 * YUAN)
    assert [f.rule for f in evaluate(move(1_000), History(), low, sandbox=False)] == [Rule.LARGE_CASH]


# --- structuring ----------------------------------------------------------------------


def test_three_cash_deposits_just_under_the_threshold_within_72_hours_are_structuring() -> None:
    earlier = [move(45_000, at=NOON - timedelta(days=2)), move(48_000, at=NOON - timedelta(days=1))]
    found = {f.rule: f for f in evaluate(move(46_000), History(earlier), T, sandbox=False)}
    assert len(found[Rule.STRUCTURING].movements) == 3


def test_deposits_spread_past_the_window_are_not_structuring() -> None:
    earlier = [move(45_000, at=NOON - timedelta(days=4)), move(48_000, at=NOON - timedelta(days=1))]
    assert Rule.STRUCTURING not in rules_of(move(46_000), History(earlier))


def test_small_deposits_are_not_structuring() -> None:
    earlier = [move(30_000, at=NOON - timedelta(hours=5)), move(30_000, at=NOON - timedelta(hours=4))]
    assert Rule.STRUCTURING not in rules_of(move(30_000), History(earlier))


def test_movements_an_alert_raised_on_do_not_raise_the_same_window_again() -> None:
    earlier = [move(45_000, at=NOON - timedelta(days=2)), move(48_000, at=NOON - timedelta(days=1))]
    covered = {Rule.STRUCTURING: frozenset(m.id for m in earlier)}
    assert Rule.STRUCTURING not in rules_of(move(46_000), History(earlier, covered))


# --- rapid in and out -----------------------------------------------------------------


def test_money_in_and_90_percent_out_within_a_day_is_rapid_in_and_out() -> None:
    money_in = move(10_000, at=NOON - timedelta(hours=3))
    found = {f.rule: f for f in evaluate(transfer_out(9_000), History([money_in]), T, sandbox=False)}
    assert {m.id for m in found[Rule.RAPID_IN_OUT].movements} >= {money_in.id}


def test_less_than_90_percent_out_is_not() -> None:
    money_in = move(10_000, at=NOON - timedelta(hours=3))
    assert Rule.RAPID_IN_OUT not in rules_of(transfer_out(8_999), History([money_in]))


def test_money_in_more_than_a_day_before_is_not() -> None:
    money_in = move(10_000, at=NOON - timedelta(hours=25))
    assert Rule.RAPID_IN_OUT not in rules_of(transfer_out(9_500), History([money_in]))


def test_in_and_out_through_different_accounts_is_not() -> None:
    money_in = move(10_000, at=NOON - timedelta(hours=1), account="acc-2")
    assert Rule.RAPID_IN_OUT not in rules_of(transfer_out(9_500), History([money_in]))


# --- dormant --------------------------------------------------------------------------


def test_a_large_movement_after_180_quiet_days_is_a_dormant_account_woken() -> None:
    quiet = History(account_last_active_at=NOON - timedelta(days=180))
    assert Rule.DORMANT in rules_of(move(10_000), quiet)


def test_179_quiet_days_or_a_small_amount_is_not() -> None:
    assert Rule.DORMANT not in rules_of(move(10_000), History(account_last_active_at=NOON - timedelta(days=179)))
    assert Rule.DORMANT not in rules_of(move(9_999), History(account_last_active_at=NOON - timedelta(days=200)))


# --- many payers ----------------------------------------------------------------------


def test_five_different_payers_into_one_account_within_a_day_is_many_payers() -> None:
    earlier = [transfer_in(100, payer=f"payer-{i}", at=NOON - timedelta(hours=i + 1)) for i in range(4)]
    assert Rule.MANY_PAYERS in rules_of(transfer_in(100, payer="payer-9"), History(earlier))


def test_one_payer_paying_five_times_is_not() -> None:
    earlier = [transfer_in(100, at=NOON - timedelta(hours=i + 1)) for i in range(4)]
    assert Rule.MANY_PAYERS not in rules_of(transfer_in(100), History(earlier))


# --- sandbox magic amounts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        (100.71, Rule.LARGE_CASH),
        (100.72, Rule.LARGE_TRANSFER),
        (100.73, Rule.STRUCTURING),
        (100.74, Rule.RAPID_IN_OUT),
        (100.75, Rule.DORMANT),
        (100.76, Rule.MANY_PAYERS),
    ],
)
def test_a_magic_amount_forces_its_rule_in_the_sandbox(amount: float, rule: Rule) -> None:
    found = evaluate(move(amount), History(), T, sandbox=True)
    assert [(f.rule, f.forced) for f in found] == [(rule, True)]


def test_magic_amounts_force_nothing_outside_the_sandbox() -> None:
    assert rules_of(move(100.71), sandbox=False) == set()


def test_between_two_customers_the_payer_raises_and_many_payers_is_the_payees() -> None:
    assert forced_rule(transfer_out(10.74)) is Rule.RAPID_IN_OUT
    assert forced_rule(transfer_in(10.74)) is None
    assert forced_rule(transfer_in(10.76)) is Rule.MANY_PAYERS
    assert forced_rule(transfer_out(10.76)) is None


def test_a_movement_of_no_customer_is_never_measured() -> None:
    internal = Movement("x", NOON, "internal:fees", None, Direction.IN, Kind.OTHER, 10**9, "CNY", "acc-1")
    assert evaluate(internal, History(), T, sandbox=True) == []


# --- what a movement was, by the other side of its posting ----------------------------


@pytest.mark.parametrize(
    ("other", "direction", "same_customer", "other_is_customer", "kinds", "kind"),
    [
        ("internal:cash-in", Direction.IN, False, False, {"checking"}, Kind.CASH_DEPOSIT),
        ("internal:cash-in", Direction.OUT, False, False, {"checking"}, Kind.CASH_WITHDRAWAL),
        ("internal:biller-settlement", Direction.OUT, False, False, {"checking"}, Kind.BILL),
        ("internal:merchant-settlement", Direction.OUT, False, False, {"checking"}, Kind.QR),
        ("internal:topup-settlement", Direction.OUT, False, False, {"checking"}, Kind.TOPUP),
        ("internal:insurance-claims", Direction.IN, False, False, {"checking"}, Kind.INSURANCE),
        ("internal:securities-proceeds", Direction.IN, False, False, {"securities_cash"}, Kind.SECURITIES),
        ("acc-2", Direction.OUT, False, True, {"checking"}, Kind.TRANSFER),
        ("acc-2", Direction.OUT, True, True, {"checking", "securities_cash"}, Kind.SECURITIES),
    ],
)
def test_a_movement_is_told_by_the_account_on_its_other_side(
    other: str, direction: Direction, same_customer: bool, other_is_customer: bool, kinds: set[str], kind: Kind
) -> None:
    assert kind_of(other, direction, same_customer, other_is_customer, kinds) is kind
