"""The service's in-process parts: settings turned into rules, and the quote fan-out."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from services.securities.domain import HoursMode, Market
from services.securities.handlers import Context
from services.securities.handlers.context import MAX_STEPS_AT_ONCE
from services.securities.settings import SecuritiesSettings
from services.securities.stream import QUEUE_SIZE, QuoteHub
from shared.clock import BANK_TZ, Clock


def test_settings_come_from_the_securities_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURITIES_MARKET_SEED", "99")
    monkeypatch.setenv("SECURITIES_HOURS_MODE", "a_share")
    monkeypatch.setenv("SECURITIES_COMMISSION_RATE", "0.0003")
    monkeypatch.setenv("SECURITIES_MIN_COMMISSION", "0")
    monkeypatch.setenv("SECURITIES_ALERT_THRESHOLDS_PCT", "[3, 7.5]")
    settings = SecuritiesSettings()
    assert (settings.market_seed, settings.hours_mode) == (99, HoursMode.A_SHARE)
    fees = settings.fee_schedule()
    assert (fees.commission_rate, fees.min_commission_minor, fees.stamp_duty_rate) == (
        Decimal("0.0003"),
        0,
        Decimal("0.0005"),
    )
    assert settings.alert_thresholds_bp() == [300, 750]


def test_the_default_fees_are_a_share_like() -> None:
    fees = SecuritiesSettings().fee_schedule()
    assert (fees.commission_rate, fees.min_commission_minor, fees.stamp_duty_rate) == (
        Decimal("0.00025"),
        500,
        Decimal("0.0005"),
    )


def _market() -> Market:
    market = Market(seed=1)
    market.open_day(date(2024, 6, 3))
    return market


def test_subscribers_get_only_their_symbols() -> None:
    hub, market = QuoteHub(), _market()
    with hub.subscribe(["600519"]) as moutai, hub.subscribe(["600519", "000001"]) as both:
        hub.publish([market.set_price("600519", 1_700_000), market.set_price("000001", 10_600)])
        assert [q.symbol for q in _drain(moutai.queue)] == ["600519"]
        assert [q.symbol for q in _drain(both.queue)] == ["600519", "000001"]
        assert hub.subscribers == 2
    assert hub.subscribers == 0


def test_a_slow_subscriber_loses_its_oldest_quotes_not_the_newest() -> None:
    hub, market = QuoteHub(), _market()
    with hub.subscribe(["600519"]) as sub:
        for i in range(QUEUE_SIZE + 10):
            hub.publish([market.set_price("600519", 1_600_000 + i * 10)])
        quotes = _drain(sub.queue)
    assert len(quotes) == QUEUE_SIZE and sub.dropped == 10
    assert quotes[-1].last == 1_600_000 + (QUEUE_SIZE + 9) * 10


def _drain(queue):  # type: ignore[no-untyped-def]
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_a_sandbox_reset_puts_the_market_back_on_its_seed() -> None:
    ctx = Context(settings=SecuritiesSettings(market_seed=3), monotonic=lambda: 0.0)
    ctx.sim.set_price("600519", 1_800_000)
    for _ in range(50):
        ctx.sim.step()
    with ctx.hub.subscribe(["600519"]) as sub:
        await ctx.reset_market()
        streamed = _drain(sub.queue)
    fresh = ctx.sim.quote("600519")
    assert (fresh.last, fresh.pinned, fresh.volume) == (1_688_000, False, 0)
    assert [q.last for q in streamed] == [1_688_000]


@pytest.mark.parametrize(
    ("mode", "at", "since"),
    [
        (HoursMode.A_SHARE, datetime(2027, 1, 8, 10, 0), date(2027, 1, 8)),  # Friday: its own proceeds
        (HoursMode.A_SHARE, datetime(2027, 1, 9, 10, 0), date(2027, 1, 8)),  # Saturday: Friday's wait for Monday
        (HoursMode.A_SHARE, datetime(2027, 1, 11, 10, 0), date(2027, 1, 11)),  # Monday: Friday's are free
        (HoursMode.ALWAYS_OPEN, datetime(2027, 1, 9, 10, 0), date(2027, 1, 9)),  # every day trades
    ],
)
def test_sale_proceeds_wait_for_the_next_trading_day(mode: HoursMode, at: datetime, since: date) -> None:
    clock = Clock(at.replace(tzinfo=BANK_TZ) - datetime.now(BANK_TZ) + timedelta(seconds=1))
    ctx = Context(settings=SecuritiesSettings(hours_mode=mode, holidays=[]), clock=clock)
    assert ctx.unsettled_since() == since


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_walk_is_taken_when_the_market_is_read_as_if_it_had_ticked() -> None:
    seconds, clock = Seconds(), Clock()
    ctx = Context(settings=SecuritiesSettings(market_seed=5), clock=clock, monotonic=seconds)
    ticked = Context(settings=SecuritiesSettings(market_seed=5), clock=clock).market
    ticked.open_day(ctx.today())
    assert ctx.sim.quote("600519") == ticked.quote("600519")  # nothing due yet

    seconds.now += 2.74  # five steps due (every 0.5 s), the sixth not yet
    with ctx.hub.subscribe(["600519"]) as sub:
        quotes = ctx.sim.quotes()
        streamed = _drain(sub.queue)
    for _ in range(5):
        ticked.step()
    assert [q.last for q in quotes] == [q.last for q in ticked.quotes()]
    assert streamed and streamed[-1] == ctx.market.quote("600519")
    # Each step's trade is stamped when it was due, half a second apart, the last 0.24 s ago.
    stamps = [t.at for t in ctx.market.ticks("600519")][-2:]
    assert stamps[1] - stamps[0] == timedelta(seconds=0.5)
    assert abs((clock.now() - stamps[1]) - timedelta(seconds=0.24)) < timedelta(seconds=0.1)

    seconds.now += 0.26  # the sixth
    ctx.sim.quote("600519")
    ticked.step()
    assert [q.last for q in ctx.market.quotes()] == [q.last for q in ticked.quotes()]


def test_the_alerts_of_the_steps_taken_wait_for_the_ticker() -> None:
    seconds = Seconds()
    ctx = Context(settings=SecuritiesSettings(market_seed=5, alert_thresholds_pct=[Decimal("0.01")]), monotonic=seconds)
    seconds.now += 5
    ctx.sim.quotes()
    alerts = ctx.take_alerts()
    assert alerts and {a.threshold_bp for a in alerts} == {1}
    assert ctx.take_alerts() == []


def test_a_long_stall_takes_only_the_last_steps_and_a_closed_market_none() -> None:
    seconds = Seconds()
    ctx = Context(settings=SecuritiesSettings(market_seed=5), monotonic=seconds)
    seconds.now += 3600  # an hour stopped: 7,200 steps due
    ctx.sim.quote("600519")
    assert len(ctx.market.ticks("600519")) <= MAX_STEPS_AT_ONCE
    assert ctx.walk() == []  # and nothing more is due

    saturday = datetime(2027, 1, 9, 10, 0).replace(tzinfo=BANK_TZ)
    closed = Context(
        settings=SecuritiesSettings(hours_mode=HoursMode.A_SHARE, holidays=[]),
        clock=Clock(saturday - datetime.now(BANK_TZ)),
        monotonic=seconds,
    )
    before = closed.market.quotes()
    seconds.now += 60
    assert closed.walk() == [] and closed.sim.quotes() == before


def test_without_a_tick_interval_the_market_moves_only_when_told() -> None:
    seconds = Seconds()
    ctx = Context(settings=SecuritiesSettings(tick_interval_ms=0), monotonic=seconds)
    before = ctx.sim.quotes()
    seconds.now += 60
    assert ctx.sim.quotes() == before
