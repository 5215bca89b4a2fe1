"""Matching an order against the simulated book, and pricing its fills. Pure: a book
(the other side's levels, best first) and an order in, executions and fills out.

- An order that arrives marketable takes liquidity: it walks the other side level by
  level (price priority: best price first), each level at that level's price, as far
  as its limit allows (a market order: the five levels shown, best five
  immediate-or-cancel). What is left of a limit order rests; what is left of a market
  order is cancelled.
- A resting order gives liquidity: once the book on the other side has moved through
  its limit, the simulated participants there trade with it at its limit price (it was
  on the book first), up to the quantity they show.

Fees are charged per fill as a broker's contract note shows them: stamp duty on each
sell fill; commission on the order's running gross, so one order filled in several
parts pays the minimum commission once (fill k pays commission(gross of fills 1..k)
less what fills 1..k-1 paid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.securities.domain.instruments import Instrument
from services.securities.domain.market import Level
from services.securities.domain.portfolio import Fill, OrderType, Side
from services.securities.domain.rules import FeeSchedule, trade_value_minor


@dataclass(frozen=True)
class Execution:
    """Shares traded at one price against one level of the book."""

    price_milli: int
    quantity: int


def at_or_better(side: Side, price: int, limit: int | None) -> bool:
    """Whether the other side's `price` is acceptable to an order with `limit`: a buy
    takes asks at or below it, a sell bids at or above it; a market order takes any."""
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


def walk(
    side: Side,
    order_type: OrderType,
    limit: int | None,
    quantity: int,
    book: Sequence[Level],
    *,
    taker: bool,
) -> list[Execution]:
    """The executions of `quantity` shares against `book` (the other side, best first).
    A taker trades at each level's price; a resting order (`taker=False`) at its limit.
    What the executions leave of `quantity` is the remainder."""
    cap = None if order_type is OrderType.MARKET else limit
    out: list[Execution] = []
    left = quantity
    for level in book:
        if left <= 0 or not at_or_better(side, level.price, cap):
            break
        take = min(left, level.quantity)
        if take <= 0:
            continue
        price = level.price if taker or cap is None else cap
        if out and out[-1].price_milli == price:
            out[-1] = Execution(price, out[-1].quantity + take)
        else:
            out.append(Execution(price, take))
        left -= take
    return out


def price_fills(
    side: Side,
    instrument: Instrument,
    executions: Sequence[Execution],
    fees: FeeSchedule,
    *,
    prior_gross_minor: int = 0,
    prior_commission_minor: int = 0,
) -> list[Fill]:
    """Each execution as a fill with its own gross, commission and stamp duty.
    Commission runs over the whole order: `prior_*` are the order's earlier fills."""
    fills: list[Fill] = []
    gross_so_far, commission_so_far = prior_gross_minor, prior_commission_minor
    for e in executions:
        gross = trade_value_minor(e.price_milli, e.quantity)
        gross_so_far += gross
        commission = max(0, fees.commission(gross_so_far) - commission_so_far)
        commission_so_far += commission
        stamp = fees.stamp_duty(side, gross, instrument)
        fills.append(Fill(side, e.quantity, e.price_milli, gross, commission, stamp))
    return fills


def remainder_reservation(
    instrument: Instrument,
    price_milli: int,
    quantity: int,
    fees: FeeSchedule,
    *,
    prior_gross_minor: int,
    prior_commission_minor: int,
) -> int:
    """Cash a buy's unfilled `quantity` must hold at `price_milli` (its limit): the most
    its fills can cost, the commission they can add to the order's running total included.
    With no earlier fills it is price x quantity + commission, as a new order reserves."""
    gross = trade_value_minor(price_milli, quantity)
    commission = max(0, fees.commission(prior_gross_minor + gross) - prior_commission_minor)
    return gross + commission


def average_price_milli(fills: Sequence[tuple[int, int]]) -> int | None:
    """Volume-weighted average price (成交均价) of (price, quantity) pairs, to the milli-yuan."""
    shares = sum(q for _, q in fills)
    if shares == 0:
        return None
    value = sum(p * q for p, q in fills)
    return (2 * value + shares) // (2 * shares)
