"""The simulated listings: a dozen instruments shaped like Shanghai and Shenzhen ones.

Names are those of well-known listings so the demo reads naturally, but every price
is simulated; the ST share is fictional.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Exchange(StrEnum):
    SSE = "SH"  # Shanghai Stock Exchange
    SZSE = "SZ"  # Shenzhen Stock Exchange


class Board(StrEnum):
    MAIN = "main"  # Shanghai and Shenzhen main boards
    CHINEXT = "chinext"  # Shenzhen ChiNext (300xxx)
    STAR = "star"  # Shanghai STAR Market (688xxx)
    ETF = "etf"  # exchange-traded funds


LOT_SIZE = 100
SHARE_TICK_MILLI = 10  # 0.01 CNY
FUND_TICK_MILLI = 1  # 0.001 CNY


@dataclass(frozen=True)
class Instrument:
    symbol: str
    name: str
    exchange: Exchange
    board: Board
    prev_close_milli: int  # the seeded previous close, in 0.001 CNY
    st: bool = False  # "special treatment": a listed company with a warning flag
    volatility_bp: int = 6  # standard deviation of one simulator step, in basis points

    @property
    def tick_milli(self) -> int:
        return FUND_TICK_MILLI if self.board is Board.ETF else SHARE_TICK_MILLI

    @property
    def price_places(self) -> int:
        return 3 if self.tick_milli == FUND_TICK_MILLI else 2

    @property
    def limit_bp(self) -> int:
        """The daily price limit around the previous close: 5% ST, 20% ChiNext and STAR, else 10%."""
        if self.st:
            return 500
        if self.board in (Board.CHINEXT, Board.STAR):
            return 2000
        return 1000

    @property
    def stamp_duty_exempt(self) -> bool:
        # Stamp duty applies to share sells; fund units (ETFs) are exempt.
        return self.board is Board.ETF

    @property
    def lot_size(self) -> int:
        return LOT_SIZE


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("600519", "Kweichow Moutai", Exchange.SSE, Board.MAIN, 1_688_000),
    Instrument("601398", "ICBC", Exchange.SSE, Board.MAIN, 5_120, volatility_bp=4),
    Instrument("600036", "China Merchants Bank", Exchange.SSE, Board.MAIN, 33_450),
    Instrument("601318", "Ping An Insurance", Exchange.SSE, Board.MAIN, 42_800),
    Instrument("000001", "Ping An Bank", Exchange.SZSE, Board.MAIN, 10_520),
    Instrument("000858", "Wuliangye Yibin", Exchange.SZSE, Board.MAIN, 142_300),
    Instrument("000333", "Midea Group", Exchange.SZSE, Board.MAIN, 64_200),
    Instrument("002594", "BYD", Exchange.SZSE, Board.MAIN, 245_600, volatility_bp=8),
    Instrument("300750", "CATL", Exchange.SZSE, Board.CHINEXT, 188_500, volatility_bp=9),
    Instrument("688981", "SMIC", Exchange.SSE, Board.STAR, 48_600, volatility_bp=9),
    Instrument("600777", "ST Haiyun (fictional)", Exchange.SSE, Board.MAIN, 2_310, st=True, volatility_bp=4),
    Instrument("510300", "CSI 300 ETF", Exchange.SSE, Board.ETF, 3_862, volatility_bp=4),
    Instrument("510500", "CSI 500 ETF", Exchange.SSE, Board.ETF, 5_734, volatility_bp=4),
)

BY_SYMBOL = {i.symbol: i for i in INSTRUMENTS}


# The spellings that name an exchange besides the code: a suffix (".SS" is Shanghai's
# on many quote sites) or a prefix.
_SUFFIXES = {".SH": Exchange.SSE, ".SS": Exchange.SSE, ".SZ": Exchange.SZSE}
_PREFIXES = {"SH": Exchange.SSE, "SZ": Exchange.SZSE}


def normalise_symbol(text: str) -> str:
    """'600519', '600519.SH' and 'sh600519' all name the same listing. A spelling that
    names the other exchange ('600519.SZ': Moutai is listed in Shanghai) names no listing:
    it is returned as written, upper-cased, so that nothing finds it."""
    value = text.strip().upper()
    code, exchange = value, None
    for suffix, named in _SUFFIXES.items():
        if code.endswith(suffix):
            code, exchange = code[: -len(suffix)], named
            break
    if exchange is None and code[:2] in _PREFIXES:
        code, exchange = code[2:], _PREFIXES[code[:2]]
    listed = BY_SYMBOL.get(code)
    if exchange is not None and listed is not None and listed.exchange is not exchange:
        return value
    return code


def find_instrument(text: str, instruments: dict[str, Instrument] | None = None) -> Instrument | None:
    return (instruments or BY_SYMBOL).get(normalise_symbol(text))
