"""Percentages on screen (a quote's change, a position's unrealised P&L) are rounded half
away from zero to two places, as money is."""

from __future__ import annotations

import pytest

from services.securities.views import percent


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        (-250, 33_000, "-0.76"),  # 33.00 -> 32.75: -0.7576%, once cut to -0.75
        (320, 42_320, "0.76"),  # 42.32 -> 42.64: 0.7561%, once cut to 0.75
        (-115_50, 6_665_50, "-1.73"),  # -1.7328%, once floored to -1.74
        (-5_00, 6_739_00, "-0.07"),  # -0.0742%, once floored to -0.08
        (1, 20_000, "0.01"),  # 0.005%: half, away from zero
        (-1, 20_000, "-0.01"),
        (-1, 30_000, "0.00"),  # -0.0033%: no minus sign on a zero
        (3_300, 33_000, "10.00"),
        (0, 0, "0.00"),  # no cost: nothing to compare with
    ],
)
def test_a_percentage_is_rounded_half_away_from_zero(part: int, whole: int, shown: str) -> None:
    assert percent(part, whole) == shown
