"""What the use cases share: the Context (sandbox clock, settings, the simulated market,
the quote hub, the sagas' deciders) and the business ids the sagas give accounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.securities import domain
from services.securities.settings import SecuritiesSettings
from services.securities.stream import QuoteHub
from shared.clock import BANK_TZ, Clock
from shared.saga.model import Timeouts

SETTLEMENT = "internal:securities-settlement"
PROCEEDS = "internal:securities-proceeds"
HOLD_PREFIX = "securities-order-"
CREDIT_PREFIX = "securities-sale-"
TRANSFER_PREFIX = "securities-transfer-"


def hold_id(order_id: str) -> str:
    return HOLD_PREFIX + order_id


def credit_id(order_id: str) -> str:
    return CREDIT_PREFIX + order_id


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

    def __post_init__(self) -> None:
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
        """Start the market's new trading day once the sandbox clock has reached it."""
        rolled = self.sim.open_day(self.today())
        if rolled:
            self.hub.publish(self.sim.quotes())
        return rolled

    def market_open(self) -> bool:
        return domain.market_open(self.settings.hours_mode, self.local_now())

    def require_open(self) -> None:
        if not self.market_open():
            raise domain.MarketClosed(domain.closed_detail(self.local_now()))
