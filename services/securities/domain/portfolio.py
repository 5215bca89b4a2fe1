"""Orders and positions: what a buy reserves, when an order fills and at what price,
what a fill costs or pays, and how a position's quantity, cost and T+1 sellable
quantity change. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.securities.domain.instruments import Instrument
from services.securities.domain.rules import (
    Band,
    FeeSchedule,
    check_sell_quantity,
    div_half_up,
    format_price,
    trade_value_minor,
)
from shared.money import format_minor


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    PENDING = "pending"  # a buy waiting for accounts to hold its cash
    ACCEPTED = "accepted"  # resting on the simulated book
    PARTIALLY_FILLED = "partially_filled"  # some shares settled, the rest resting (or being re-reserved)
    FILLING = "filling"  # executed; waiting for accounts to settle the cash
    FILLED = "filled"
    CANCELLING = "cancelling"  # a buy waiting for accounts to release its hold
    CANCELLED = "cancelled"
    REJECTED = "rejected"


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


def reservation_minor(
    instrument: Instrument, order_type: OrderType, limit_price: int | None, band: Band, quantity: int, fees: FeeSchedule
) -> int:
    """Cash a buy holds: at its limit price, or for a market order at the limit-up
    price (the worst it can fill at today), plus the commission at that price. Fees
    rise with the price, so any fill at or below it costs no more than the hold."""
    price = limit_price if order_type is OrderType.LIMIT and limit_price is not None else band.up
    gross = trade_value_minor(price, quantity)
    return gross + fees.for_trade(Side.BUY, gross, instrument).total_minor


def reservation_basis(
    instrument: Instrument, order_type: OrderType, limit_price: int | None, band: Band, quantity: int, fees: FeeSchedule
) -> str:
    """Why a buy reserves what it does, in words for a refusal's detail."""
    market = order_type is OrderType.MARKET or limit_price is None
    price = band.up if market or limit_price is None else limit_price
    gross = trade_value_minor(price, quantity)
    commission = fees.for_trade(Side.BUY, gross, instrument).total_minor
    at = "today's limit-up" if market else "its limit price"
    return (
        f"a {'market' if market else 'limit'} buy reserves at {at} {format_price(price, instrument)} x {quantity} "
        f"shares + fees {format_minor(commission)} = {format_minor(gross + commission)} CNY"
    )


@dataclass(frozen=True)
class Fill:
    side: Side
    quantity: int
    price_milli: int
    gross_minor: int
    commission_minor: int
    stamp_duty_minor: int

    @property
    def amount_minor(self) -> int:
        """Cash that moves: a buy pays gross plus fees; a sell receives gross less fees."""
        fees = self.commission_minor + self.stamp_duty_minor
        return self.gross_minor + fees if self.side is Side.BUY else self.gross_minor - fees


def make_fill(side: Side, instrument: Instrument, price_milli: int, quantity: int, fees: FeeSchedule) -> Fill:
    gross = trade_value_minor(price_milli, quantity)
    f = fees.for_trade(side, gross, instrument)
    return Fill(side, quantity, price_milli, gross, f.commission_minor, f.stamp_duty_minor)


@dataclass
class Position:
    """A customer's holding of one symbol. `cost_minor` is what the shares still held
    cost, buy fees included; T+1 is tracked as the quantity bought on the latest bank
    day with buys (`unsettled_day`), which becomes sellable the day after."""

    symbol: str
    quantity: int = 0
    frozen: int = 0  # promised to open sell orders
    cost_minor: int = 0
    realised_pnl_minor: int = 0
    unsettled_day: date | None = None
    unsettled_quantity: int = 0

    def bought_today(self, today: date) -> int:
        if self.unsettled_day is not None and self.unsettled_day >= today:
            return self.unsettled_quantity
        return 0

    def sellable(self, today: date) -> int:
        return max(0, self.quantity - self.frozen - self.bought_today(today))

    def freeze_for_sale(self, quantity: int, today: date, instrument: Instrument) -> None:
        check_sell_quantity(
            quantity, self.sellable(today), instrument, frozen=self.frozen, bought_today=self.bought_today(today)
        )
        self.frozen += quantity

    def unfreeze(self, quantity: int) -> None:
        self.frozen -= min(quantity, self.frozen)

    def add_purchase(self, quantity: int, cost_minor: int, trade_day: date) -> None:
        self.quantity += quantity
        self.cost_minor += cost_minor
        if self.unsettled_day is None or trade_day > self.unsettled_day:
            self.unsettled_day, self.unsettled_quantity = trade_day, quantity
        else:
            # Same day, or (with a clock set back) an earlier one: stay conservative.
            self.unsettled_quantity += quantity

    def settle_sale(self, quantity: int, proceeds_minor: int, *, frozen: bool = True) -> int:
        """Remove sold shares at their average cost; returns the realised P&L. `frozen`
        says whether the shares are still frozen for this sale (and so unfreeze now)."""
        quantity = min(quantity, self.quantity)
        if quantity == self.quantity:
            cost_out = self.cost_minor
        else:
            cost_out = div_half_up(self.cost_minor * quantity, self.quantity)
        self.quantity -= quantity
        if frozen:
            self.unfreeze(quantity)
        self.frozen = min(self.frozen, self.quantity)
        self.cost_minor -= cost_out
        self.unsettled_quantity = min(self.unsettled_quantity, self.quantity)
        if self.quantity == 0:
            self.unsettled_day = None
        realised = proceeds_minor - cost_out
        self.realised_pnl_minor += realised
        return realised

    def average_cost_milli(self) -> int:
        return div_half_up(self.cost_minor * 10, self.quantity) if self.quantity else 0

    def market_value_minor(self, last_milli: int) -> int:
        return trade_value_minor(last_milli, self.quantity)

    def unrealised_pnl_minor(self, last_milli: int) -> int:
        return self.market_value_minor(last_milli) - self.cost_minor
