"""Investor suitability (投资者适当性, 权限开通): the boards a customer must be enabled for
before buying there. No I/O.

The exchanges' rules: the STAR Market (SSE, 2019) asks 500,000 CNY of average daily
assets over 20 trading days and 24 months of trading experience; ChiNext (SZSE, 2020
reform) 100,000 CNY and 24 months; risk-warning (ST) shares (SSE and SZSE risk-warning
board rules) 200,000 CNY and a signed risk disclosure. The sandbox keeps only the step a
customer sees: accepting the board's risk disclosure enables it at once.
"""

from __future__ import annotations

from enum import StrEnum

from services.securities.domain.instruments import Board, Instrument
from shared.errors import DomainError


class RestrictedBoard(StrEnum):
    STAR = "star"  # 科创板
    CHINEXT = "chinext"  # 创业板
    ST = "st"  # 风险警示板: ST and *ST shares


BOARD_NAMES = {
    RestrictedBoard.STAR: "the STAR Market",
    RestrictedBoard.CHINEXT: "ChiNext",
    RestrictedBoard.ST: "risk-warning (ST) shares",
}
# What the exchanges ask before enabling a board, for the disclosure's text.
EXCHANGE_THRESHOLDS = {
    RestrictedBoard.STAR: "500,000 CNY of average daily assets over 20 trading days and 24 months of trading",
    RestrictedBoard.CHINEXT: "100,000 CNY of average daily assets over 20 trading days and 24 months of trading",
    RestrictedBoard.ST: "200,000 CNY of average daily assets over 20 trading days and a signed risk disclosure",
}


class NotEnabledForBoard(DomainError):
    code = "not-enabled-for-board"


class RiskDisclosureRequired(DomainError):
    code = "risk-disclosure-required"


def restricted_board(instrument: Instrument) -> RestrictedBoard | None:
    """The board a buyer of `instrument` must be enabled for; ST wins over the market's
    own board (an ST share on ChiNext needs the risk-warning permission)."""
    if instrument.st:
        return RestrictedBoard.ST
    if instrument.board is Board.STAR:
        return RestrictedBoard.STAR
    if instrument.board is Board.CHINEXT:
        return RestrictedBoard.CHINEXT
    return None


def check_enabled(instrument: Instrument, enabled: set[str] | frozenset[str]) -> None:
    """Buying on a restricted board needs the customer enabled for it. Selling shares
    already held never does: a customer is not trapped in a position."""
    board = restricted_board(instrument)
    if board is not None and board.value not in enabled:
        raise NotEnabledForBoard(
            f"{instrument.symbol} ({instrument.name}) trades on {BOARD_NAMES[board]}: enable it first "
            f'(POST /v1/securities/permissions {{"board": "{board.value}", "risk_disclosure_accepted": true}})'
        )


def check_enabling(board: RestrictedBoard, risk_disclosure_accepted: bool) -> None:
    """The sandbox's rule for enabling a board: the customer accepts its risk disclosure.
    The exchanges' asset and experience thresholds are not checked."""
    if not risk_disclosure_accepted:
        raise RiskDisclosureRequired(
            f"enabling {BOARD_NAMES[board]} needs its risk disclosure accepted "
            f"(the exchange also asks {EXCHANGE_THRESHOLDS[board]}; the sandbox does not check that)"
        )
