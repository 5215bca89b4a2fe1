"""可用 / 可取: today's sale proceeds buy shares at once but leave for the bank only from
the next bank day (T+1)."""

from __future__ import annotations

import pytest

from services.securities.domain import NotWithdrawableYet, check_withdrawal, withdrawable_minor


@pytest.mark.parametrize(
    ("available", "proceeds", "withdrawable"),
    [
        (10_000_00, 0, 10_000_00),  # no sales today: all of it
        (10_000_00, 3_000_00, 7_000_00),  # today's proceeds stay until tomorrow
        (2_000_00, 3_000_00, 0),  # proceeds already spent on buys: nothing of the old cash is left
        (0, 0, 0),
    ],
)
def test_withdrawable_is_the_available_cash_less_todays_proceeds(
    available: int, proceeds: int, withdrawable: int
) -> None:
    assert withdrawable_minor(available, proceeds) == withdrawable


def test_a_transfer_out_may_take_everything_but_todays_proceeds() -> None:
    check_withdrawal(7_000_00, 10_000_00, 3_000_00)
    with pytest.raises(NotWithdrawableYet) as refused:
        check_withdrawal(7_000_01, 10_000_00, 3_000_00)
    assert str(refused.value) == (
        "7000.01 CNY is more than the 7000.00 CNY withdrawable now: 3000.00 CNY of today's sale proceeds "
        "can buy shares at once but move to the bank from the next bank day (T+1)"
    )


def test_without_proceeds_today_whether_the_cash_is_there_is_accounts_answer() -> None:
    check_withdrawal(20_000_00, 10_000_00, 0)  # accounts refuses it: insufficient_funds
