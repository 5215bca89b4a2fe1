"""For any sequence of orders, price moves, fills, cancels and days, the customer's
cash plus positions at cost reconcile with the ledger movements.

The ledger here is the accounts service's own domain (holds, captures, releases,
credits); the securities side is the domain the service runs: reservations, fills,
fees, positions and T+1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from services.accounts import domain as ledger
from services.securities.domain import (
    INSTRUMENTS,
    FeeSchedule,
    Instrument,
    InvalidQuantity,
    Market,
    NotEnoughSellable,
    OddLot,
    OrderType,
    Position,
    Side,
    price_fills,
    remainder_reservation,
    reservation_minor,
    walk,
)

LIMITS = ledger.ClassLimits()
FEES = FeeSchedule()
OPENING_CASH = 2_000_000_00  # 2 million CNY
SYMBOLS = [i.symbol for i in INSTRUMENTS]


@dataclass
class OpenOrder:
    id: str
    instrument: Instrument
    side: Side
    order_type: OrderType
    limit: int | None
    quantity: int
    hold: ledger.Hold | None = None  # a buy's cash hold (its remainder's, after a part fill)
    filled: int = 0  # shares settled so far
    gross: int = 0  # of the fills so far: commission runs over the order
    commission: int = 0


class PortfolioAgainstLedger(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 10_000))
    def open(self, seed: int) -> None:
        self.day = date(2024, 6, 3)
        self.market = Market(seed=seed)
        self.market.open_day(self.day)
        self.cash_in = ledger.Account("internal:cash-in", "CNY", allow_overdraft=True)
        self.settlement = ledger.Account("internal:securities-settlement", "CNY", allow_overdraft=True)
        self.proceeds = ledger.Account("internal:securities-proceeds", "CNY", allow_overdraft=True)
        self.cash = ledger.Account("securities-cash", "CNY", customer_id="c1", kyc_class=ledger.KycClass.I)
        ledger.credit(self.cash_in, self.cash, OPENING_CASH, "CNY", limits=LIMITS)
        self.positions: dict[str, Position] = {}
        self.open_orders: dict[str, OpenOrder] = {}
        self.bought = self.sold = 0  # cash paid for buys, received for sells
        self.shares_in: dict[str, int] = {}
        self.shares_out: dict[str, int] = {}
        self.next_id = 0

    def _position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position(symbol))

    def _new_id(self) -> str:
        self.next_id += 1
        return f"o{self.next_id}"

    def _price(self, instrument: Instrument, fraction: float) -> int:
        band = self.market.quote(instrument.symbol).band
        tick = instrument.tick_milli
        steps = (band.up - band.down) // tick
        return band.down + round(steps * fraction) * tick

    @rule(symbol=st.sampled_from(SYMBOLS), lots=st.integers(1, 30), market=st.booleans(), at=st.floats(0, 1))
    def place_buy(self, symbol: str, lots: int, market: bool, at: float) -> None:
        instrument = self.market.instrument(symbol)
        order_type = OrderType.MARKET if market else OrderType.LIMIT
        limit = None if market else self._price(instrument, at)
        band = self.market.quote(symbol).band
        amount = reservation_minor(instrument, order_type, limit, band, lots * 100, FEES)
        order = OpenOrder(self._new_id(), instrument, Side.BUY, order_type, limit, lots * 100)
        hold = ledger.Hold(f"h-{order.id}", self.cash.id, amount, "CNY", counts_toward_limit=False)
        try:
            ledger.reserve(self.cash, hold, outflow_today_minor=0, limits=LIMITS)
        except ledger.InsufficientFunds:
            return  # accounts answers ReservationRejected: the order ends, nothing moved
        order.hold = hold
        self.open_orders[order.id] = order

    @rule(symbol=st.sampled_from(SYMBOLS), lots=st.integers(1, 10), everything=st.booleans(), at=st.floats(0, 1))
    def place_sell(self, symbol: str, lots: int, everything: bool, at: float) -> None:
        instrument = self.market.instrument(symbol)
        position = self._position(symbol)
        quantity = position.sellable(self.day) if everything else lots * 100
        try:
            position.freeze_for_sale(quantity, self.day, instrument)
        except (NotEnoughSellable, OddLot, InvalidQuantity):
            return
        limit = self._price(instrument, at)
        self.open_orders[self._new_id()] = OpenOrder("", instrument, Side.SELL, OrderType.LIMIT, limit, quantity)

    @rule(symbol=st.sampled_from(SYMBOLS), at=st.floats(0, 1))
    def move_price(self, symbol: str, at: float) -> None:
        self.market.set_price(symbol, self._price(self.market.instrument(symbol), at))

    @rule(steps=st.integers(1, 20))
    def walk(self, steps: int) -> None:
        for _ in range(steps):
            self.market.step()

    @rule(on_arrival=st.booleans())
    def fill_what_crosses(self, on_arrival: bool) -> None:
        """Each open order matches the book on its other side (in part, perhaps), and each
        batch settles as the service settles it: a buy's hold captured for the batch (the
        rest released, the remainder held anew), a sell's proceeds credited."""
        for key, order in list(self.open_orders.items()):
            symbol = order.instrument.symbol
            buying = order.side is Side.BUY
            market = order.order_type is OrderType.MARKET
            quote = self.market.quote(symbol)
            left = order.quantity - order.filled
            book = quote.opposite(buying)
            executions = walk(order.side, order.order_type, order.limit, left, book, taker=on_arrival or market)
            if not executions:
                if market:  # a market order facing a sealed market: cancelled, nothing traded
                    self.cancel_order(self.open_orders.pop(key))
                continue
            fills = price_fills(
                order.side,
                order.instrument,
                executions,
                FEES,
                prior_gross_minor=order.gross,
                prior_commission_minor=order.commission,
            )
            amount = sum(f.amount_minor for f in fills)
            shares = sum(f.quantity for f in fills)
            position = self._position(symbol)
            if buying:
                assert order.hold is not None
                # The hold always covers the batch: the capture never fails.
                _, released = ledger.capture(self.cash, self.settlement, order.hold, amount, limits=LIMITS)
                assert released == order.hold.amount_minor - amount
                order.hold = None
                for f in fills:
                    position.add_purchase(f.quantity, f.amount_minor, self.day)
                self.bought += amount
                self.shares_in[symbol] = self.shares_in.get(symbol, 0) + shares
            else:
                if amount <= 0 and order.filled == 0:
                    position.unfreeze(order.quantity)  # rejected: proceeds below fees
                    del self.open_orders[key]
                    continue
                ledger.credit(self.proceeds, self.cash, amount, "CNY", limits=LIMITS)
                for f in fills:
                    position.settle_sale(f.quantity, f.amount_minor)
                self.sold += amount
                self.shares_out[symbol] = self.shares_out.get(symbol, 0) + shares
            self.market.take(symbol, buying, [(e.price_milli, e.quantity) for e in executions])
            order.filled += shares
            order.gross += sum(f.gross_minor for f in fills)
            order.commission += sum(f.commission_minor for f in fills)
            if order.filled == order.quantity:
                del self.open_orders[key]
            elif market:  # best five, immediate or cancel: the rest is cancelled
                self.cancel_order(self.open_orders.pop(key))
            elif buying:  # the remainder is held anew, or cancelled if the cash is gone
                assert order.limit is not None
                held = remainder_reservation(
                    order.instrument,
                    order.limit,
                    order.quantity - order.filled,
                    FEES,
                    prior_gross_minor=order.gross,
                    prior_commission_minor=order.commission,
                )
                hold = ledger.Hold(f"h-{order.id}-{order.filled}", self.cash.id, held, "CNY", counts_toward_limit=False)
                try:
                    ledger.reserve(self.cash, hold, outflow_today_minor=0, limits=LIMITS)
                except ledger.InsufficientFunds:
                    del self.open_orders[key]
                    continue
                order.hold = hold

    @precondition(lambda self: bool(self.open_orders))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.open_orders)))
        self.cancel_order(self.open_orders.pop(key))

    def cancel_order(self, order: OpenOrder) -> None:
        if order.side is Side.BUY:
            if order.hold is not None:  # a capture already released a market buy's rest
                ledger.release(self.cash, order.hold)
        else:
            self._position(order.instrument.symbol).unfreeze(order.quantity - order.filled)

    @rule()
    def next_day(self) -> None:
        # Orders are day orders: what is still open when the day ends lapses, giving back
        # its hold or its frozen shares (a market buy reserved at yesterday's limit-up
        # could not cover today's).
        for order in self.open_orders.values():
            if order.hold is not None:
                ledger.release(self.cash, order.hold)
            elif order.side is Side.SELL:
                self._position(order.instrument.symbol).unfreeze(order.quantity - order.filled)
        self.open_orders.clear()
        self.day += timedelta(days=1)
        self.market.open_day(self.day)

    # --- what must always hold ----------------------------------------------------------

    @invariant()
    def cash_plus_positions_at_cost_reconcile_with_the_ledger(self) -> None:
        cost = sum(p.cost_minor for p in self.positions.values())
        realised = sum(p.realised_pnl_minor for p in self.positions.values())
        assert self.cash.balance_minor + cost == OPENING_CASH + realised
        assert self.cash.balance_minor == OPENING_CASH - self.bought + self.sold

    @invariant()
    def settlement_accounts_hold_exactly_the_fills(self) -> None:
        assert self.settlement.balance_minor == self.bought
        assert self.proceeds.balance_minor == -self.sold
        accounts = (self.cash_in, self.settlement, self.proceeds, self.cash)
        assert sum(a.balance_minor for a in accounts) == 0

    @invariant()
    def held_cash_is_exactly_the_open_buys(self) -> None:
        open_buys = [o for o in self.open_orders.values() if o.side is Side.BUY]
        assert self.cash.held_minor == sum(o.hold.amount_minor for o in open_buys if o.hold)
        assert self.cash.available_minor >= 0

    @invariant()
    def positions_are_consistent(self) -> None:
        for symbol, p in self.positions.items():
            frozen = sum(
                o.quantity - o.filled
                for o in self.open_orders.values()
                if o.side is Side.SELL and o.instrument.symbol == symbol
            )
            assert p.frozen == frozen
            assert p.quantity == self.shares_in.get(symbol, 0) - self.shares_out.get(symbol, 0)
            assert 0 <= p.frozen <= p.quantity
            assert p.sellable(self.day) >= 0
            assert p.cost_minor >= 0
            assert p.quantity > 0 or p.cost_minor == 0


PortfolioAgainstLedger.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_portfolio_reconciles_with_the_ledger = PortfolioAgainstLedger.TestCase
