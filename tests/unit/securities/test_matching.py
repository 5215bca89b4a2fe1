"""Matching against the simulated book as pure arithmetic: a book and an order in,
executions out; fees per fill with the minimum commission once per order; what a
part-filled buy's remainder must hold; the book's liquidity taken by fills."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.securities.domain import (
    BY_SYMBOL,
    Band,
    Execution,
    FeeSchedule,
    Level,
    Market,
    OrderType,
    Side,
    average_price_milli,
    make_fill,
    price_fills,
    remainder_reservation,
    reservation_minor,
    walk,
)

FEES = FeeSchedule(commission_rate=Decimal("0.00025"), min_commission_minor=500, stamp_duty_rate=Decimal("0.0005"))
BAND = Band(1, 10**9)  # a limit order's hold does not depend on the band
SHARE = BY_SYMBOL["600036"]  # tick 0.01, stamp duty on sells
ASKS = [Level(37_170, 300), Level(37_180, 500), Level(37_190, 200), Level(37_200, 1_000), Level(37_210, 100)]
BIDS = [Level(37_150, 400), Level(37_140, 100), Level(37_130, 600), Level(37_120, 100), Level(37_110, 100)]


def test_a_market_buy_walks_the_asks_level_by_level_at_their_prices() -> None:
    assert walk(Side.BUY, OrderType.MARKET, None, 1_000, ASKS, taker=True) == [
        Execution(37_170, 300),
        Execution(37_180, 500),
        Execution(37_190, 200),
    ]


def test_a_market_order_takes_at_most_the_five_levels_and_leaves_the_rest() -> None:
    executions = walk(Side.SELL, OrderType.MARKET, None, 2_000, BIDS, taker=True)
    assert sum(e.quantity for e in executions) == 1_300  # everything the five bids show
    assert [e.price_milli for e in executions] == [37_150, 37_140, 37_130, 37_120, 37_110]


def test_a_marketable_limit_buy_stops_at_its_limit_and_the_rest_is_left_to_rest() -> None:
    executions = walk(Side.BUY, OrderType.LIMIT, 37_180, 1_000, ASKS, taker=True)
    assert executions == [Execution(37_170, 300), Execution(37_180, 500)]  # 200 left


def test_a_limit_order_not_marketable_matches_nothing() -> None:
    assert walk(Side.BUY, OrderType.LIMIT, 37_160, 100, ASKS, taker=True) == []
    assert walk(Side.SELL, OrderType.LIMIT, 37_160, 100, BIDS, taker=True) == []
    assert walk(Side.BUY, OrderType.MARKET, None, 100, [], taker=True) == []  # sealed at limit-up


def test_a_resting_order_trades_at_its_own_limit_against_the_levels_that_moved_through_it() -> None:
    # The book moved down through a resting buy at 37.20: its sellers trade at 37.20.
    executions = walk(Side.BUY, OrderType.LIMIT, 37_200, 1_500, ASKS, taker=False)
    assert executions == [Execution(37_200, 1_500)]
    assert walk(Side.SELL, OrderType.LIMIT, 37_140, 800, BIDS, taker=False) == [Execution(37_140, 500)]


def test_commission_runs_over_the_order_so_the_minimum_is_paid_once_and_stamp_duty_per_fill() -> None:
    executions = [Execution(37_170, 100), Execution(37_180, 100), Execution(37_190, 100)]
    fills = price_fills(Side.SELL, SHARE, executions, FEES)
    # 3717.00 + 3718.00 + 3719.00 = 11154.00 gross: 0.025% is 2.79, under the 5.00 minimum.
    assert [f.gross_minor for f in fills] == [3_717_00, 3_718_00, 3_719_00]
    assert [f.commission_minor for f in fills] == [500, 0, 0]
    assert [f.stamp_duty_minor for f in fills] == [186, 186, 186]  # 0.05% of each, half up: 1.8585 -> 1.86
    whole = make_fill(Side.SELL, SHARE, 37_180, 300, FEES)
    assert sum(f.commission_minor for f in fills) == whole.commission_minor == 500


def test_past_the_minimum_each_fill_pays_the_commission_its_share_of_the_running_total_adds() -> None:
    executions = [Execution(37_170, 10_000), Execution(37_180, 10_000)]
    fills = price_fills(Side.BUY, SHARE, executions, FEES)
    # 371700.00 x 0.025% = 92.93 (92.925 half up); running 743500.00 x 0.025% = 185.88 (185.875).
    assert [f.commission_minor for f in fills] == [92_93, 185_88 - 92_93]
    assert [f.stamp_duty_minor for f in fills] == [0, 0]  # buys pay no stamp duty
    assert fills[0].amount_minor == 371_700_00 + 92_93


@given(
    quantities=st.lists(st.integers(1, 300).map(lambda lots: lots * 100), min_size=1, max_size=5),
    ticks=st.lists(st.integers(0, 50), min_size=5, max_size=5),
)
def test_an_orders_fills_pay_the_commission_of_its_total_and_its_hold_always_covers_them(
    quantities: list[int], ticks: list[int]
) -> None:
    executions = [Execution(10_000 + 10 * t, q) for q, t in zip(quantities, sorted(ticks), strict=False)]
    fills = price_fills(Side.BUY, SHARE, executions, FEES)
    gross = sum(f.gross_minor for f in fills)
    assert sum(f.commission_minor for f in fills) == FEES.commission(gross)
    limit = max(e.price_milli for e in executions)
    total = sum(f.amount_minor for f in fills)
    assert total <= reservation_minor(SHARE, OrderType.LIMIT, limit, BAND, sum(quantities), FEES)


@given(
    first=st.integers(1, 300).map(lambda lots: lots * 100),
    rest=st.integers(1, 300).map(lambda lots: lots * 100),
    first_tick=st.integers(0, 40),
)
def test_a_remainder_held_again_covers_its_fills_at_its_limit_and_with_no_fills_is_a_new_orders_hold(
    first: int, rest: int, first_tick: int
) -> None:
    limit = 10_500
    before = price_fills(Side.BUY, SHARE, [Execution(10_100 + 10 * first_tick, first)], FEES)
    prior_gross, prior_commission = before[0].gross_minor, before[0].commission_minor
    held = remainder_reservation(
        SHARE, limit, rest, FEES, prior_gross_minor=prior_gross, prior_commission_minor=prior_commission
    )
    later = price_fills(
        Side.BUY,
        SHARE,
        [Execution(limit, rest)],
        FEES,
        prior_gross_minor=prior_gross,
        prior_commission_minor=prior_commission,
    )
    assert later[0].amount_minor == held  # at its limit exactly, lower never more
    fresh = remainder_reservation(SHARE, limit, rest, FEES, prior_gross_minor=0, prior_commission_minor=0)
    assert fresh == reservation_minor(SHARE, OrderType.LIMIT, limit, BAND, rest, FEES)


def test_the_average_price_weighs_each_fill_by_its_shares() -> None:
    assert average_price_milli([(37_170, 300), (37_180, 500), (37_190, 200)]) == 37_179  # 37179000 / 1000
    assert average_price_milli([]) is None


def test_fills_take_liquidity_from_the_book_showing_until_the_price_moves() -> None:
    market = Market(seed=7)
    market.open_day(date(2026, 5, 20))
    quote = market.set_price("600036", SHARE.prev_close_milli)
    ask1, ask2 = quote.depth()[1][:2]
    taken = market.take("600036", True, [(ask1.price, ask1.quantity), (ask2.price, 100)])
    asks = taken.depth()[1]
    assert asks[0] == Level(ask2.price, ask2.quantity - 100)  # the first level is gone
    assert taken.seq > quote.seq and taken.last == quote.last  # a price taker: the last price stays
    moved = market.set_price("600036", SHARE.prev_close_milli + 10)
    assert len(moved.depth()[1]) == 5  # a new book once the price moves
