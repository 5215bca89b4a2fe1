"""The simulated market: a deterministic random walk inside the daily limits, the
sandbox price control, day rolls and price alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.securities.domain import (
    INSTRUMENTS,
    Instrument,
    Market,
    PriceOutsideLimits,
    UnknownInstrument,
    alert_level,
)

DAY = date(2024, 6, 3)


def _market(seed: int = 7, **kw) -> Market:
    market = Market(seed=seed, **kw)
    market.open_day(DAY)
    return market


def _walk(market: Market, steps: int) -> list[tuple[str, int]]:
    for _ in range(steps):
        market.step()
    return [(q.symbol, q.last) for q in market.quotes()]


def test_the_same_seed_walks_the_same_prices() -> None:
    assert _walk(_market(42), 500) == _walk(_market(42), 500)


def test_another_seed_walks_other_prices() -> None:
    assert _walk(_market(42), 500) != _walk(_market(43), 500)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 400))
def test_the_walk_stays_inside_the_limits_and_on_the_tick(seed: int, steps: int) -> None:
    market = _market(seed)
    for _ in range(steps):
        market.step()
        for q in market.quotes():
            assert q.band.down <= q.last <= q.band.up
            assert q.last % q.instrument.tick_milli == 0
            assert q.low <= q.last <= q.high


def test_a_pinned_symbol_holds_its_price_while_others_walk() -> None:
    market = _market()
    market.set_price("600519", 1_700_000)
    before = {q.symbol: q.last for q in market.quotes()}
    _walk(market, 200)
    after = {q.symbol: q.last for q in market.quotes()}
    assert after["600519"] == 1_700_000
    assert sum(before[s] != after[s] for s in before) > 5
    market.pin("600519", False)
    _walk(market, 200)
    assert market.quote("600519").last != 1_700_000


def test_pinning_one_symbol_does_not_change_the_others_paths() -> None:
    free, pinned = _market(5), _market(5)
    pinned.set_price("600519", 1_700_000)
    a, b = dict(_walk(free, 300)), dict(_walk(pinned, 300))
    assert {s: p for s, p in a.items() if s != "600519"} == {s: p for s, p in b.items() if s != "600519"}


@pytest.mark.parametrize(
    ("symbol", "price", "error"),
    [
        ("600519", 1_900_000, PriceOutsideLimits),
        ("600519", 1_500_000, PriceOutsideLimits),
        ("999999", 1_000, UnknownInstrument),
    ],
)
def test_the_price_control_keeps_to_the_limits(symbol: str, price: int, error: type[Exception]) -> None:
    market = _market()
    with pytest.raises(error):
        market.set_price(symbol, price)
    assert market.quote("600519").last == 1_688_000


def test_quotes_show_change_spread_and_no_ask_at_limit_up() -> None:
    market = _market()
    q = market.set_price("600519", 1_700_000)
    assert (q.change, q.change_bp, q.bid, q.ask) == (12_000, 71, 1_699_990, 1_700_010)
    up = market.set_price("600519", q.band.up)
    assert (up.ask, up.bid) == (None, up.band.up - 10)
    down = market.set_price("600519", q.band.down)
    assert (down.bid, down.ask) == (None, down.band.down + 10)
    assert down.volume == 300 and down.high == up.band.up and down.low == down.band.down


def test_a_new_day_takes_the_last_price_as_its_previous_close() -> None:
    market = _market()
    market.set_price("600519", 1_800_000)
    assert market.open_day(DAY) is False
    assert market.open_day(DAY + timedelta(days=1)) is True
    q = market.quote("600519")
    assert (q.prev_close, q.last, q.volume, q.day) == (1_800_000, 1_800_000, 0, DAY + timedelta(days=1))
    assert (q.band.down, q.band.up) == (1_620_000, 1_980_000)


def test_an_alert_fires_once_per_crossing_and_again_after_falling_back() -> None:
    market = _market(alert_thresholds_bp=(300, 500), alert_rearm_bp=50)
    market.set_price("600519", 1_772_400)  # +5.00%: crosses 3% and 5% at once
    assert [(a.direction, a.threshold_bp) for a in market.alerts(["600519"])] == [("up", 300), ("up", 500)]
    market.set_price("600519", 1_780_000)
    market.set_price("600519", 1_766_000)  # +4.6%: not back by the re-arm margin
    market.set_price("600519", 1_773_000)
    assert market.alerts(["600519"]) == []
    market.set_price("600519", 1_760_000)  # +4.27%: back under 5% - 0.5%, re-armed
    assert market.alerts(["600519"]) == []
    market.set_price("600519", 1_775_000)
    alerts = market.alerts(["600519"])
    assert [(a.direction, a.threshold_bp, a.change_bp) for a in alerts] == [("up", 500, 515)]
    market.set_price("600519", 1_600_000)  # -5.21%
    assert [(a.direction, a.threshold_bp) for a in market.alerts(["600519"])] == [("down", 300), ("down", 500)]


def test_no_alerts_inside_the_thresholds() -> None:
    market = _market(alert_thresholds_bp=(500,))
    market.set_price("600519", 1_770_000)  # +4.86%
    assert market.alerts() == []


@pytest.mark.parametrize(
    ("prev", "change", "level", "crossings"),
    [
        (0, 100, 0, []),
        (0, 510, 1, [("up", 500)]),
        (1, 600, 1, []),
        (1, 460, 1, []),  # within the re-arm margin: still counts as crossed
        (1, 440, 0, []),
        (0, 1000, 2, [("up", 500), ("up", 1000)]),
        (2, -500, -1, [("down", 500)]),
        (-1, -460, -1, []),
    ],
)
def test_alert_level(prev: int, change: int, level: int, crossings: list) -> None:
    assert alert_level(prev, change, (500, 1000), 50) == (level, crossings)


def test_the_quote_shows_five_levels_each_side_inside_the_band() -> None:
    market = Market(seed=20240601)
    q = market.set_price("600519", 1_700_000)
    bids, asks = q.depth()
    assert [lv.price for lv in bids] == [1_699_990, 1_699_980, 1_699_970, 1_699_960, 1_699_950]
    assert [lv.price for lv in asks] == [1_700_010, 1_700_020, 1_700_030, 1_700_040, 1_700_050]
    assert all(lv.quantity > 0 and lv.quantity % 100 == 0 for lv in bids + asks)
    # The same seed and quote give the same book; another seed another.
    assert Market(seed=20240601).set_price("600519", 1_700_000).depth() == (bids, asks)
    assert Market(seed=20240602).set_price("600519", 1_700_000).depth() != (bids, asks)


def test_a_sealed_side_has_no_levels_and_none_cross_the_limits() -> None:
    market = Market(seed=20240601)
    up = market.set_price("600519", market.quote("600519").band.up)
    bids, asks = up.depth()
    assert asks == [] and len(bids) == 5 and bids[0].price == up.band.up - 10
    near_down = market.set_price("600519", up.band.down + 20)
    bids, asks = near_down.depth()
    assert [lv.price for lv in bids] == [up.band.down + 10, up.band.down]  # nothing under limit-down
    assert len(asks) == 5
    down = market.set_price("600519", up.band.down)
    assert down.depth()[0] == []


@given(seed=st.integers(0, 2**32), steps=st.integers(0, 200), symbol=st.sampled_from(INSTRUMENTS))
@settings(max_examples=50, deadline=None)
def test_depth_is_always_inside_the_band_and_ordered(seed: int, steps: int, symbol: Instrument) -> None:
    market = Market(seed=seed)
    for _ in range(steps):
        market.step()
    q = market.quote(symbol.symbol)
    bids, asks = q.depth()
    assert all(q.band.down <= lv.price < q.last for lv in bids) or q.last == q.band.down
    assert all(q.last < lv.price <= q.band.up for lv in asks)
    assert [lv.price for lv in bids] == sorted((lv.price for lv in bids), reverse=True)
    assert [lv.price for lv in asks] == sorted(lv.price for lv in asks)
    assert len(bids) <= 5 and len(asks) <= 5


def test_ticks_record_todays_trades_and_bars_outlive_the_day() -> None:
    market = Market(seed=20240601)
    monday = date(2026, 6, 1)
    market.open_day(monday)
    at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    market.set_price("000001", 10_600, at=at)
    market.set_price("000001", 10_400, at=at + timedelta(seconds=1))
    market.set_price("000001", 10_500, at=at + timedelta(seconds=2))
    assert [(t.price, t.volume) for t in market.ticks("000001")] == [(10_600, 100), (10_400, 100), (10_500, 100)]
    [today] = market.bars("000001")
    assert (today.day, today.open, today.high, today.low, today.close, today.complete) == (
        monday,
        10_520,
        10_600,
        10_400,
        10_500,
        False,
    )

    market.open_day(monday + timedelta(days=1))
    assert market.ticks("000001") == []
    monday_bar, tuesday_bar = market.bars("000001")
    assert (monday_bar.day, monday_bar.close, monday_bar.volume, monday_bar.complete) == (monday, 10_500, 300, True)
    assert (tuesday_bar.open, tuesday_bar.high, tuesday_bar.low, tuesday_bar.close) == (10_500,) * 4
    assert not tuesday_bar.complete


def test_a_market_restored_from_its_written_history_resumes_its_bars_day_and_ticks() -> None:
    first, second = date(2026, 5, 20), date(2026, 5, 21)
    at = datetime(2026, 5, 21, 2, 0, tzinfo=UTC)
    before = Market(seed=11)
    before.open_day(first)
    before.set_price("600036", 33_700)
    before.open_day(second)
    before.set_price("600036", 33_900, at=at)
    written = before.unsaved_ticks()
    assert [(symbol, day, t.price) for symbol, day, t in written] == [("600036", second, 33_900)]
    assert before.unsaved_ticks() == []  # handed over once

    bars = [(symbol, b) for symbol in before.instruments for b in before.bars(symbol)]
    after = Market(seed=11)  # a new process: the seed alone would start again
    after.restore(second, bars, [(symbol, t) for symbol, _day, t in written])
    assert after.bars("600036") == before.bars("600036")
    quote, was = after.quote("600036"), before.quote("600036")
    assert (quote.prev_close, quote.last, quote.high, quote.volume, quote.band) == (
        was.prev_close,
        was.last,
        was.high,
        was.volume,
        was.band,
    )
    assert after.ticks("600036") == before.ticks("600036")
    assert after.day == second
