"""securities: facts on `securities.events` about orders, fills, bank-securities
transfers and price alerts.

Order events are keyed by order id and transfer events by transfer id, so one
order's story is read in order; price alerts are keyed by symbol. Prices are
integers in milli-yuan (0.001 CNY: A-share ticks are 0.01, ETF ticks 0.001), money
in fen (`*_minor`).
"""

from __future__ import annotations

from typing import Literal

from shared.events.envelope import Message
from shared.events.topics import SECURITIES_EVENTS

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
TransferDirection = Literal["bank_to_securities", "securities_to_bank"]

# Why an accepted-for-processing order ended without a fill. The first group is what
# accounts answered; the rest are the securities service's own.
OrderRejectionReason = Literal[
    "insufficient_funds",
    "limit_exceeded",
    "balance_cap_exceeded",
    "account_not_found",
    "currency_mismatch",
    "hold_not_found",
    "hold_not_active",
    "invalid_amount",
    "price_above_reservation",
    "proceeds_below_fees",
    "timeout",
]
CancelReason = Literal["customer", "expired", "no_opposite_side", "unmatched_remainder", "remainder_unfunded"]


class SecuritiesEvent(Message):
    TOPIC = SECURITIES_EVENTS


class OrderEvent(SecuritiesEvent):
    order_id: str
    customer_id: str
    symbol: str
    side: Side

    def key(self) -> str:
        return self.order_id


class OrderPlaced(OrderEvent):
    """An order passed the synchronous checks; a buy now waits for its cash hold."""

    TYPE = "securities.OrderPlaced"
    order_type: OrderType
    quantity: int
    limit_price_milli: int | None
    account_id: str
    reserved_minor: int  # cash a buy reserves (0 for a sell)
    bank_day: str


class OrderAccepted(OrderEvent):
    """The order rests on the simulated book: cash is held (buy) or shares frozen (sell)."""

    TYPE = "securities.OrderAccepted"
    hold_id: str | None = None


class OrderRejected(OrderEvent):
    TYPE = "securities.OrderRejected"
    reason: OrderRejectionReason
    detail: str = ""


class OrderMatched(OrderEvent):
    """The simulated market executed the order; settlement with accounts is under way."""

    TYPE = "securities.OrderMatched"
    quantity: int
    price_milli: int
    gross_minor: int
    commission_minor: int
    stamp_duty_minor: int
    amount_minor: int  # cash paid (buy, fees included) or received (sell, fees deducted)


class OrderFilled(OrderMatched):
    """accounts confirmed the cash side; the position has changed. For an order filled in
    parts, the totals of all its fills (`price_milli` their average)."""

    TYPE = "securities.OrderFilled"
    position_quantity: int
    realised_pnl_minor: int = 0


class OrderPartiallyFilled(OrderMatched):
    """A part of the order settled (its quantity, average price and cash here); the rest
    rests on the book, or is cancelled (a market order's unmatched remainder)."""

    TYPE = "securities.OrderPartiallyFilled"
    filled_quantity: int  # settled so far, this part included
    remaining_quantity: int
    position_quantity: int
    realised_pnl_minor: int = 0


class OrderCancelled(OrderEvent):
    TYPE = "securities.OrderCancelled"
    reason: CancelReason
    released_minor: int = 0


class BankTransferEvent(SecuritiesEvent):
    transfer_id: str
    customer_id: str
    direction: TransferDirection
    from_account_id: str
    to_account_id: str
    amount_minor: int
    currency: str = "CNY"

    def key(self) -> str:
        return self.transfer_id


class BankTransferRequested(BankTransferEvent):
    TYPE = "securities.BankTransferRequested"


class BankTransferCompleted(BankTransferEvent):
    TYPE = "securities.BankTransferCompleted"


class BankTransferFailed(BankTransferEvent):
    TYPE = "securities.BankTransferFailed"
    reason: str
    detail: str = ""


class PriceAlerted(SecuritiesEvent):
    """A symbol moved beyond an alert threshold from its previous close (once per crossing)."""

    TYPE = "securities.PriceAlerted"
    symbol: str
    name: str
    direction: Literal["up", "down"]
    threshold_bp: int  # basis points from the previous close, e.g. 500 = 5%
    change_bp: int
    last_price_milli: int
    prev_close_milli: int
    bank_day: str

    def key(self) -> str:
        return self.symbol
