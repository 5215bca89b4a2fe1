"""Investor suitability: STAR, ChiNext and ST shares need the buyer enabled (权限开通)."""

from __future__ import annotations

import pytest

from services.securities.domain import (
    BY_SYMBOL,
    INSTRUMENTS,
    NotEnabledForBoard,
    RestrictedBoard,
    RiskDisclosureRequired,
    check_enabled,
    check_enabling,
    restricted_board,
)


@pytest.mark.parametrize(
    ("symbol", "board"),
    [
        ("688981", RestrictedBoard.STAR),
        ("300750", RestrictedBoard.CHINEXT),
        ("600777", RestrictedBoard.ST),
        ("600519", None),
        ("000001", None),
        ("510300", None),
    ],
)
def test_which_listings_need_a_permission(symbol: str, board: RestrictedBoard | None) -> None:
    assert restricted_board(BY_SYMBOL[symbol]) is board


def test_a_buy_on_a_restricted_board_names_the_board_and_how_to_enable_it() -> None:
    with pytest.raises(NotEnabledForBoard) as refused:
        check_enabled(BY_SYMBOL["688981"], set())
    assert str(refused.value) == (
        "688981 (SMIC) trades on the STAR Market: enable it first "
        '(POST /v1/securities/permissions {"board": "star", "risk_disclosure_accepted": true})'
    )
    with pytest.raises(NotEnabledForBoard, match="ChiNext"):
        check_enabled(BY_SYMBOL["300750"], {"star", "st"})  # another board's permission is not enough


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=lambda i: i.symbol)
def test_enabled_for_every_board_a_customer_may_buy_anything(instrument) -> None:  # type: ignore[no-untyped-def]
    check_enabled(instrument, {b.value for b in RestrictedBoard})


def test_enabling_a_board_needs_its_risk_disclosure_accepted() -> None:
    check_enabling(RestrictedBoard.ST, risk_disclosure_accepted=True)
    with pytest.raises(RiskDisclosureRequired, match="200,000 CNY"):
        check_enabling(RestrictedBoard.ST, risk_disclosure_accepted=False)
