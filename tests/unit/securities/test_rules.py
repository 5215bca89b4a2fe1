"""A-share rules: price limits, ticks, lots, fees and their rounding, trading hours."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from services.securities.domain import (
    BY_SYMBOL,
    Band,
    FeeSchedule,
    HoursMode,
    InvalidPrice,
    InvalidQuantity,
    NotEnoughSellable,
    OddLot,
    OffTick,
    PriceOutsideLimits,
    change_bp,
    check_buy_quantity,
    check_price_in_band,
    check_sell_quantity,
    div_half_up,
    find_instrument,
    format_price,
    market_open,
    normalise_symbol,
    parse_price,
    price_band,
    session_end,
    trade_value_minor,
)
from shared.clock import BANK_TZ

MOUTAI = BY_SYMBOL["600519"]
PING_AN_BANK = BY_SYMBOL["000001"]
CATL = BY_SYMBOL["300750"]
SMIC = BY_SYMBOL["688981"]
ST = BY_SYMBOL["600777"]
ETF = BY_SYMBOL["510300"]
FEES = FeeSchedule()


@pytest.mark.parametrize(
    ("instrument", "prev_close", "down", "up"),
    [
        (MOUTAI, 1_688_000, 1_519_200, 1_856_800),  # main board: +/-10%
        (PING_AN_BANK, 10_520, 9_470, 11_570),  # 11.572 -> 11.57, 9.468 -> 9.47
        (CATL, 188_500, 150_800, 226_200),  # ChiNext: +/-20%
        (SMIC, 48_600, 38_880, 58_320),  # STAR: +/-20%
        (ST, 2_310, 2_190, 2_430),  # ST: +/-5%; 2.4255 -> 2.43, 2.1945 -> 2.19 (half up)
        (ETF, 3_862, 3_476, 4_248),  # fund ticks of 0.001: 4.2482 -> 4.248, 3.4758 -> 3.476
        (MOUTAI, 10, 10, 10),  # a 0.01 share: limits round to the tick, never below one tick
    ],
)
def test_price_band_is_the_limit_around_the_previous_close_rounded_half_up_to_the_tick(
    instrument, prev_close, down, up
) -> None:
    assert price_band(prev_close, instrument) == Band(down, up)


def test_limit_percentages_by_board() -> None:
    assert (MOUTAI.limit_bp, CATL.limit_bp, SMIC.limit_bp, ST.limit_bp, ETF.limit_bp) == (1000, 2000, 2000, 500, 1000)


@pytest.mark.parametrize(
    ("price", "inside"),
    [(1_519_200, True), (1_856_800, True), (1_519_190, False), (1_856_810, False), (1_688_000, True)],
)
def test_prices_outside_the_band_are_refused(price: int, inside: bool) -> None:
    band = price_band(1_688_000, MOUTAI)
    if inside:
        check_price_in_band(price, band, MOUTAI)
    else:
        with pytest.raises(PriceOutsideLimits, match=r"1519\.20 and 1856\.80"):
            check_price_in_band(price, band, MOUTAI)


@pytest.mark.parametrize(
    ("text", "instrument", "milli"),
    [
        ("1688.00", MOUTAI, 1_688_000),
        ("1688", MOUTAI, 1_688_000),
        ("10.5", PING_AN_BANK, 10_500),
        ("3.862", ETF, 3_862),
    ],
)
def test_prices_on_the_tick_parse_to_milli_yuan(text: str, instrument, milli: int) -> None:
    assert parse_price(Decimal(text), instrument) == milli


@pytest.mark.parametrize(
    ("text", "instrument", "error"),
    [
        ("1688.005", MOUTAI, OffTick),  # shares trade in 0.01
        ("10.521", PING_AN_BANK, OffTick),
        ("3.8625", ETF, OffTick),  # funds in 0.001
        ("0", MOUTAI, InvalidPrice),
        ("-1.00", MOUTAI, InvalidPrice),
        ("NaN", MOUTAI, InvalidPrice),
        ("abc", MOUTAI, InvalidPrice),
        ("100000000", MOUTAI, InvalidPrice),
    ],
)
def test_bad_prices_are_refused(text: str, instrument, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_price(text, instrument)


@pytest.mark.parametrize(
    ("milli", "instrument", "text"),
    [(1_688_000, MOUTAI, "1688.00"), (3_862, ETF, "3.862"), (10, MOUTAI, "0.01"), (-120, MOUTAI, "-0.12")],
)
def test_prices_format_with_the_instruments_precision(milli: int, instrument, text: str) -> None:
    assert format_price(milli, instrument) == text


@pytest.mark.parametrize("quantity", [100, 200, 1_000, 1_000_000])
def test_buys_in_whole_lots_pass(quantity: int) -> None:
    check_buy_quantity(quantity, MOUTAI)


@pytest.mark.parametrize(
    ("quantity", "error"),
    [
        (1, OddLot),
        (50, OddLot),
        (150, OddLot),
        (101, OddLot),
        (0, InvalidQuantity),
        (-100, InvalidQuantity),
        (1_000_100, InvalidQuantity),
    ],
)
def test_odd_lots_and_silly_quantities_on_a_buy_are_refused(quantity: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_buy_quantity(quantity, MOUTAI)


@pytest.mark.parametrize(
    ("quantity", "sellable", "error"),
    [
        (100, 300, None),
        (300, 300, None),
        (150, 150, None),  # an odd remainder goes all at once
        (50, 150, OddLot),  # ... but not in pieces
        (400, 300, NotEnoughSellable),
        (100, 0, NotEnoughSellable),
        (0, 300, InvalidQuantity),
    ],
)
def test_sell_quantities(quantity: int, sellable: int, error: type[Exception] | None) -> None:
    if error is None:
        check_sell_quantity(quantity, sellable, MOUTAI)
    else:
        with pytest.raises(error):
            check_sell_quantity(quantity, sellable, MOUTAI)


@pytest.mark.parametrize(
    ("price", "quantity", "fen"),
    [(1_688_000, 100, 16_880_000), (3_862, 100, 38_620), (3_861, 150, 57_915), (3_861, 1, 386), (3_865, 1, 387)],
)
def test_trade_value_is_price_times_quantity_in_fen_half_up(price: int, quantity: int, fen: int) -> None:
    assert trade_value_minor(price, quantity) == fen


@pytest.mark.parametrize(
    ("gross", "commission"),
    [
        (16_880_000, 4_220),  # 168,800.00 x 0.025% = 42.20
        (105_200, 500),  # 1,052.00 x 0.025% = 0.263: the 5.00 minimum applies
        (2_000_000, 500),  # exactly the minimum
        (2_002_000, 501),  # 500.5 fen rounds half up
        (2_001_999, 500),  # 500.49975 rounds down
    ],
)
def test_commission_has_a_minimum_and_rounds_half_up_to_the_fen(gross: int, commission: int) -> None:
    assert FEES.commission(gross) == commission


@pytest.mark.parametrize(
    ("side", "gross", "instrument", "duty"),
    [
        ("sell", 16_880_000, MOUTAI, 8_440),  # 0.05% of 168,800.00 = 84.40
        ("sell", 1_001_000, MOUTAI, 501),  # 500.5 fen rounds half up
        ("buy", 16_880_000, MOUTAI, 0),  # stamp duty is on sells only
        ("sell", 38_620, ETF, 0),  # funds are exempt
    ],
)
def test_stamp_duty_is_on_share_sells_only(side: str, gross: int, instrument, duty: int) -> None:
    assert FEES.stamp_duty(side, gross, instrument) == duty


def test_fee_schedule_is_configurable() -> None:
    cheap = FeeSchedule(commission_rate=Decimal("0.0001"), min_commission_minor=0, stamp_duty_rate=Decimal(0))
    fees = cheap.for_trade("sell", 1_000_000, MOUTAI)
    assert (fees.commission_minor, fees.stamp_duty_minor, fees.total_minor) == (100, 0, 100)


@pytest.mark.parametrize(("n", "d", "q"), [(5, 10, 1), (4, 10, 0), (15, 10, 2), (14, 10, 1), (-5, 10, -1), (0, 7, 0)])
def test_div_half_up(n: int, d: int, q: int) -> None:
    assert div_half_up(n, d) == q


@pytest.mark.parametrize(
    ("last", "prev", "bp"), [(1_772_400, 1_688_000, 500), (1_603_600, 1_688_000, -500), (105, 100, 500)]
)
def test_change_in_basis_points(last: int, prev: int, bp: int) -> None:
    assert change_bp(last, prev) == bp


def _beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BANK_TZ)


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2024-06-03 09:29:59", False),  # a Monday, before the open
        ("2024-06-03 09:30:00", True),
        ("2024-06-03 11:29:59", True),
        ("2024-06-03 11:30:00", False),  # lunch break
        ("2024-06-03 12:59:59", False),
        ("2024-06-03 13:00:00", True),
        ("2024-06-03 14:59:59", True),
        ("2024-06-03 15:00:00", False),
        ("2024-06-08 10:00:00", False),  # Saturday
        ("2024-06-09 14:00:00", False),  # Sunday
    ],
)
def test_a_share_trading_hours(when: str, open_: bool) -> None:
    assert market_open(HoursMode.A_SHARE, _beijing(when)) is open_
    assert market_open(HoursMode.ALWAYS_OPEN, _beijing(when)) is True


def test_day_orders_lapse_at_the_close_in_a_share_mode_and_at_midnight_otherwise() -> None:
    assert session_end(HoursMode.A_SHARE, date(2024, 6, 3)) == _beijing("2024-06-03 15:00:00")
    assert session_end(HoursMode.ALWAYS_OPEN, date(2024, 6, 3)) == _beijing("2024-06-04 00:00:00")


@pytest.mark.parametrize("text", ["600519", "600519.SH", "600519.ss", "sh600519", " 600519.sh "])
def test_symbols_are_found_in_any_common_spelling(text: str) -> None:
    assert find_instrument(text) is MOUTAI


@pytest.mark.parametrize("text", ["600519.SZ", "sz600519", "000001.SH", "SH000001", "000001.SS"])
def test_a_spelling_that_names_the_other_exchange_finds_nothing(text: str) -> None:
    """Moutai is listed in Shanghai and Ping An Bank in Shenzhen: an order or a quote for
    either on the other exchange is for a listing the market does not have."""
    assert find_instrument(text) is None
    assert normalise_symbol(text) not in BY_SYMBOL


def test_a_dozen_instruments_across_boards() -> None:
    boards = {i.board for i in BY_SYMBOL.values()}
    assert len(BY_SYMBOL) >= 12
    assert {"main", "chinext", "star", "etf"} <= {b.value for b in boards}
    assert any(i.st for i in BY_SYMBOL.values())
    assert {i.exchange.value for i in BY_SYMBOL.values()} == {"SH", "SZ"}


@pytest.mark.parametrize(
    ("quantity", "frozen", "bought_today", "sellable", "told", "not_told"),
    [
        (300, 0, 0, 200, ["200 are held in all"], ["T+1", "open sell orders"]),
        (200, 100, 0, 100, ["100 are promised to open sell orders"], ["T+1", "held in all"]),
        (200, 0, 100, 100, ["100 were bought today", "T+1"], ["open sell orders", "held in all"]),
        (300, 100, 100, 0, ["100 are promised", "100 were bought today", "200 are held in all"], []),
    ],
)
def test_a_sell_of_more_than_is_sellable_says_why_the_rest_is_not(
    quantity: int, frozen: int, bought_today: int, sellable: int, told: list[str], not_told: list[str]
) -> None:
    with pytest.raises(NotEnoughSellable) as refused:
        check_sell_quantity(quantity, sellable, MOUTAI, frozen=frozen, bought_today=bought_today)
    detail = str(refused.value)
    assert detail.startswith(f"only {sellable} shares of 600519 can be sold now: ")
    assert all(t in detail for t in told) and not any(t in detail for t in not_told), detail
