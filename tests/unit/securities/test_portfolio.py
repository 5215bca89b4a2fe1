"""Orders and positions: reservations that always cover the fill, execution prices,
T+1 sellable quantities and average cost."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.securities.domain import (
    BY_SYMBOL,
    INSTRUMENTS,
    FeeSchedule,
    Market,
    NotEnoughSellable,
    OrderType,
    Position,
    Side,
    make_fill,
    price_band,
    price_fills,
    reservation_basis,
    reservation_minor,
    walk,
)

MOUTAI = BY_SYMBOL["600519"]
ETF = BY_SYMBOL["510300"]
FEES = FeeSchedule()
MONDAY = date(2024, 6, 3)
TUESDAY = MONDAY + timedelta(days=1)


def test_a_limit_buy_reserves_price_times_quantity_plus_commission() -> None:
    band = price_band(MOUTAI.prev_close_milli, MOUTAI)
    # 100 x 1700.00 = 170,000.00; commission 0.025% = 42.50
    assert reservation_minor(MOUTAI, OrderType.LIMIT, 1_700_000, band, 100, FEES) == 17_000_000 + 4_250


def test_a_market_buy_reserves_at_the_limit_up_price() -> None:
    band = price_band(MOUTAI.prev_close_milli, MOUTAI)
    # 100 x 1856.80 = 185,680.00; commission 46.42
    assert reservation_minor(MOUTAI, OrderType.MARKET, None, band, 100, FEES) == 18_568_000 + 4_642


def test_a_refusal_says_why_a_buy_reserves_what_it_does() -> None:
    band = price_band(MOUTAI.prev_close_milli, MOUTAI)
    assert reservation_basis(MOUTAI, OrderType.MARKET, None, band, 100, FEES) == (
        "a market buy reserves at today's limit-up 1856.80 x 100 shares + fees 46.42 = 185726.42 CNY"
    )
    etf_band = price_band(ETF.prev_close_milli, ETF)
    assert reservation_basis(ETF, OrderType.LIMIT, 3_800, etf_band, 1_000, FEES) == (
        "a limit buy reserves at its limit price 3.800 x 1000 shares + fees 5.00 = 3805.00 CNY"
    )


BAND = price_band(MOUTAI.prev_close_milli, MOUTAI)  # 1519.20 .. 1856.80


def _book(last: int) -> Market:
    market = Market(seed=3)
    market.open_day(date(2026, 5, 20))
    market.set_price(MOUTAI.symbol, last)
    return market


@pytest.mark.parametrize(
    ("side", "order_type", "limit", "last", "trades"),
    [
        # Sealed at limit-up: no sellers. A market buy finds nothing (it is cancelled), a
        # limit buy nothing either (it rests).
        (Side.BUY, OrderType.MARKET, None, BAND.up, False),
        (Side.BUY, OrderType.LIMIT, BAND.up, BAND.up, False),
        # A tick below it there are sellers again, at limit-up.
        (Side.BUY, OrderType.MARKET, None, BAND.up - 10, True),
        (Side.BUY, OrderType.LIMIT, BAND.up, BAND.up - 10, True),
        # Sealed at limit-down: no buyers.
        (Side.SELL, OrderType.MARKET, None, BAND.down, False),
        (Side.SELL, OrderType.LIMIT, BAND.down, BAND.down, False),
        (Side.SELL, OrderType.MARKET, None, BAND.down + 10, True),
        # A sealed opposite side of the other direction is no obstacle.
        (Side.SELL, OrderType.MARKET, None, BAND.up, True),
        (Side.BUY, OrderType.MARKET, None, BAND.down, True),
        # Otherwise a limit order trades once the book on the other side reaches it: a buy
        # at the last price does not (the best ask is a tick above).
        (Side.BUY, OrderType.LIMIT, 1_700_000, 1_700_000, False),
        (Side.BUY, OrderType.LIMIT, 1_700_000, 1_699_990, True),
        (Side.SELL, OrderType.LIMIT, 1_750_000, 1_760_000, True),
        (Side.SELL, OrderType.LIMIT, 1_750_000, 1_750_000, False),
    ],
)
def test_what_the_book_does_with_an_order(
    side: Side, order_type: OrderType, limit: int | None, last: int, trades: bool
) -> None:
    book = _book(last).quote(MOUTAI.symbol).opposite(side is Side.BUY)
    assert bool(walk(side, order_type, limit, 100, book, taker=True)) is trades


@given(
    instrument=st.sampled_from(INSTRUMENTS),
    data=st.data(),
    lots=st.integers(1, 2_000),
    market=st.booleans(),
)
def test_the_hold_always_covers_the_fills(instrument, data, lots: int, market: bool) -> None:
    band = price_band(instrument.prev_close_milli, instrument)
    tick = instrument.tick_milli
    limit = data.draw(st.integers(band.down // tick, band.up // tick)) * tick
    last = data.draw(st.integers(band.down // tick, band.up // tick)) * tick
    order_type = OrderType.MARKET if market else OrderType.LIMIT
    limit_price = None if market else limit
    quantity = lots * instrument.lot_size
    held = reservation_minor(instrument, order_type, limit_price, band, quantity, FEES)
    sim = Market([instrument], seed=5)
    sim.open_day(date(2026, 5, 20))
    sim.set_price(instrument.symbol, last)
    book = sim.quote(instrument.symbol).opposite(True)
    for taker in (True, False):
        executions = walk(Side.BUY, order_type, limit_price, quantity, book, taker=taker or market)
        fills = price_fills(Side.BUY, instrument, executions, FEES)
        assert sum(f.amount_minor for f in fills) <= held


def test_a_sell_fill_pays_gross_less_commission_and_stamp_duty() -> None:
    fill = make_fill(Side.SELL, MOUTAI, 1_700_000, 100, FEES)
    assert (fill.gross_minor, fill.commission_minor, fill.stamp_duty_minor) == (17_000_000, 4_250, 8_500)
    assert fill.amount_minor == 17_000_000 - 4_250 - 8_500
    etf = make_fill(Side.SELL, ETF, 3_900, 1_000, FEES)
    assert (etf.gross_minor, etf.commission_minor, etf.stamp_duty_minor, etf.amount_minor) == (390_000, 500, 0, 389_500)


def test_shares_bought_today_are_not_sellable_until_the_next_bank_day() -> None:
    position = Position("600519")
    position.add_purchase(300, 50_000_000, MONDAY)
    assert (position.sellable(MONDAY), position.bought_today(MONDAY)) == (0, 300)
    with pytest.raises(NotEnoughSellable, match="T\\+1"):
        position.freeze_for_sale(100, MONDAY, MOUTAI)
    assert position.sellable(TUESDAY) == 300


def test_a_second_buy_today_keeps_older_shares_sellable() -> None:
    position = Position("600519")
    position.add_purchase(200, 1_000, MONDAY)
    position.add_purchase(100, 500, TUESDAY)
    position.add_purchase(100, 500, TUESDAY)
    assert (position.quantity, position.sellable(TUESDAY), position.bought_today(TUESDAY)) == (400, 200, 200)
    assert position.sellable(TUESDAY + timedelta(days=1)) == 400


def test_frozen_shares_are_not_sellable_twice_and_come_back_on_cancel() -> None:
    position = Position("600519")
    position.add_purchase(300, 3_000, MONDAY)
    position.freeze_for_sale(200, TUESDAY, MOUTAI)
    assert position.sellable(TUESDAY) == 100
    with pytest.raises(NotEnoughSellable):
        position.freeze_for_sale(200, TUESDAY, MOUTAI)
    position.unfreeze(200)
    assert position.sellable(TUESDAY) == 300


def test_a_sale_removes_shares_at_average_cost_and_books_the_realised_pnl() -> None:
    position = Position("600519")
    position.add_purchase(300, 30_001, MONDAY)
    position.freeze_for_sale(100, TUESDAY, MOUTAI)
    realised = position.settle_sale(100, 12_000)
    # a third of 300.01 is 100.003..., rounded half up to 100.00
    assert (position.quantity, position.frozen, position.cost_minor, realised) == (200, 0, 20_001, 2_000)
    assert position.settle_sale(200, 19_000, frozen=False) == 19_000 - 20_001
    assert (position.quantity, position.cost_minor, position.realised_pnl_minor) == (0, 0, 2_000 - 1_001)


def test_average_cost_market_value_and_unrealised_pnl() -> None:
    position = Position("600519")
    position.add_purchase(100, 17_004_250, MONDAY)  # 1700.00 x 100 + 42.50 commission
    assert position.average_cost_milli() == 1_700_425
    assert position.market_value_minor(1_750_000) == 17_500_000
    assert position.unrealised_pnl_minor(1_750_000) == 17_500_000 - 17_004_250
