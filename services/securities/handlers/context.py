"""What the use cases share: the Context (sandbox clock, settings, the simulated market,
the quote hub, the sagas' deciders) and the business ids the sagas give accounts."""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        self.calendar = domain.TradingCalendar.of(self.settings.holidays)
        self.market = self._seeded_market()
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
        self.sync_day()
        self.hub.publish(self.sim.quotes())

    @property
    def sim(self) -> domain.Market:
        return self.market

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
        if a_share and self.sim.day is not None and not self.calendar.is_trading_day(today):
            return False
        rolled = self.sim.open_day(today)
        if rolled:
            self.hub.publish(self.sim.quotes())
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
