"""What the use cases share: the Context (sandbox clock, settings, the simulated market,
the quote hub, the sagas' deciders) and the business ids the sagas give accounts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.securities import domain
from services.securities.settings import SecuritiesSettings
from services.securities.stream import QuoteHub
from shared.clock import BANK_TZ, Clock
from shared.saga.model import Timeouts
from shared.saga.store import Holds

SETTLEMENT = "internal:securities-settlement"
PROCEEDS = "internal:securities-proceeds"
HOLD_PREFIX = "securities-order-"
CREDIT_PREFIX = "securities-sale-"
TRANSFER_PREFIX = "securities-transfer-"


# The most steps of the walk one look at the market takes: a process stopped (or its loop
# blocked) for longer finds the market where it left it, plus this many steps.
MAX_STEPS_AT_ONCE = 120

ID_LENGTH = 36  # a UUID: what follows it in a business id is the leg


def _leg(business_id: str, leg: int) -> str:
    """An order's first hold or credit keeps the plain id; each later leg (a remainder
    held again after a part fill, a sale's next part) adds `-<leg>`."""
    return business_id if leg <= 1 else f"{business_id}-{leg}"


def hold_id(order_id: str, leg: int = 1) -> str:
    return _leg(HOLD_PREFIX + order_id, leg)


def credit_id(order_id: str, leg: int = 1) -> str:
    return _leg(CREDIT_PREFIX + order_id, leg)


def order_leg(business_id: str, prefix: str) -> tuple[str, int] | None:
    """The order and leg a hold or credit id names, if it is one of ours."""
    rest = ours(business_id, prefix)
    if rest is None:
        return None
    if len(rest) > ID_LENGTH + 1 and rest[ID_LENGTH] == "-" and rest[ID_LENGTH + 1 :].isdigit():
        return rest[:ID_LENGTH], int(rest[ID_LENGTH + 1 :])
    return rest, 1


@dataclass(frozen=True)
class OrderHolds(Holds):
    """How accounts names a buy's hold: its current leg's."""

    def hold_id(self, saga: Any) -> str | None:
        return hold_id(saga.id, saga.leg or 1) if self.when(saga) else None

    def saga_id(self, hold_id: str) -> str | None:
        found = order_leg(hold_id, self.prefix)
        return None if found is None else found[0]


def transfer_command_id(transfer_id: str) -> str:
    return TRANSFER_PREFIX + transfer_id


def ours(business_id: str, prefix: str) -> str | None:
    return business_id[len(prefix) :] if business_id.startswith(prefix) else None


@dataclass
class Context:
    """What the use cases share: the sandbox clock, settings, the market, the stream hub
    and the sagas' deciders."""

    settings: SecuritiesSettings = field(default_factory=SecuritiesSettings)
    clock: Clock = field(default_factory=Clock)
    market: domain.Market = field(init=False)
    hub: QuoteHub = field(default_factory=QuoteHub)
    fees: domain.FeeSchedule = field(init=False)
    orders: domain.OrderSaga = field(init=False)
    transfers: domain.BankTransferSaga = field(init=False)
    calendar: domain.TradingCalendar = field(init=False)
    # The last market day whose history the writer has saved (jobs.save_history).
    history_saved_through: date | None = None
    # The walk's own clock (seconds, never set back): a step is due every tick_interval_ms
    # of it.
    monotonic: Callable[[], float] = time.monotonic
    # Price alerts raised by the steps taken and not yet published (jobs.tick does).
    alerts_due: list[domain.Alert] = field(default_factory=list)
    # Set when someone wants each step as it comes (a quote stream opened, an order came to
    # rest): the ticker, waiting at its idle pace, goes back to every step at once.
    wanted: asyncio.Event = field(default_factory=asyncio.Event)
    _walked_to: float = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = domain.TradingCalendar.of(self.settings.holidays)
        self.market = self._seeded_market()
        self._walked_to = self.monotonic()
        self.fees = self.settings.fee_schedule()
        timeouts = Timeouts(
            step=timedelta(seconds=self.settings.step_timeout_s), max_attempts=self.settings.max_attempts
        )
        self.orders = domain.OrderSaga(timeouts, self.settings.hours_mode)
        self.transfers = domain.BankTransferSaga(timeouts)
        self.sync_day()

    def _seeded_market(self) -> domain.Market:
        return domain.Market(
            seed=self.settings.market_seed,
            alert_thresholds_bp=self.settings.alert_thresholds_bp(),
            alert_rearm_bp=self.settings.alert_rearm_bp(),
        )

    async def reset_market(self) -> None:
        """The sandbox reset: the market starts again from its seed (no pins, alerts re-armed)."""
        self.market = self._seeded_market()
        self.restart_walk()
        self.sync_day()
        self.hub.publish(self.market.quotes())

    def restart_walk(self) -> None:
        """The market was just made or restored: its walk goes on from now, not from
        steps due before it."""
        self._walked_to = self.monotonic()
        self.alerts_due.clear()

    @property
    def sim(self) -> domain.Market:
        """The market as it stands now. The walk is due every tick_interval_ms whether or
        not anything looked; its steps are taken when something does (this, and the ticker
        at its pace): each reader sees the prices it would have seen had the ticker run
        twice a second, and a market nobody watches costs a wake-up every few seconds."""
        self.walk()
        return self.market

    def walk(self) -> list[str]:
        """Take the steps of the walk due since the last ones, oldest first, each stamped
        with the time it was due: the quotes of what moved go to the stream, and the
        alerts they raise to `alerts_due`. Outside trading hours the steps lapse (prices do
        not move while the market is closed). Returns the symbols that moved."""
        interval_s = self.settings.tick_interval_ms / 1000
        if interval_s <= 0:
            return []
        now = self.monotonic()
        due = int((now - self._walked_to) / interval_s)
        if due <= 0:
            return []
        self._walked_to += due * interval_s
        self.sync_day()
        if not self.market_open():
            return []
        wall = self.clock.now()
        moved: set[str] = set()
        for n in range(min(due, MAX_STEPS_AT_ONCE) - 1, -1, -1):
            stepped = self.market.step(wall - timedelta(seconds=now - self._walked_to + n * interval_s))
            if stepped:
                self.hub.publish(self.market.quotes(stepped))
                self.alerts_due += self.market.alerts(stepped)
                moved.update(stepped)
        return sorted(moved)

    def take_alerts(self) -> list[domain.Alert]:
        alerts, self.alerts_due = self.alerts_due, []
        return alerts

    def today(self) -> date:
        return self.clock.bank_day()

    def local_now(self) -> datetime:
        return self.clock.now().astimezone(BANK_TZ)

    def sync_day(self) -> bool:
        """Start the market's new trading day once the sandbox clock has reached it. In
        `a_share` mode a weekend or holiday is no trading day: the market stays on the
        last one (no bar for a day without trading)."""
        today = self.today()
        a_share = self.settings.hours_mode is domain.HoursMode.A_SHARE
        if a_share and self.market.day is not None and not self.calendar.is_trading_day(today):
            return False
        rolled = self.market.open_day(today)
        if rolled:
            self.hub.publish(self.market.quotes())
        return rolled

    def unsettled_since(self) -> date:
        """The first trade day whose buys are not sellable and whose sale proceeds are not
        withdrawable yet: both from the next trading day (T+1), so on a weekend or holiday
        in `a_share` mode the last trading day's wait too (a Friday's until Monday)."""
        today = self.today()
        if self.settings.hours_mode is domain.HoursMode.A_SHARE:
            return self.calendar.last_trading_day(today)
        return today

    def market_open(self) -> bool:
        return domain.market_open(self.settings.hours_mode, self.local_now(), self.calendar)

    def require_open(self) -> None:
        if not self.market_open():
            raise domain.MarketClosed(domain.closed_detail(self.local_now(), self.calendar))
