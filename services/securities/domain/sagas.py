"""The order and bank-securities transfer sagas' decisions, as pure objects on the saga
primitive (shared.saga.model): given a saga and a fact from accounts, a match from the
market, a customer's cancel or a passed deadline, each returns a `Decision`. Handlers
load the row, ask, and carry the decision out. No I/O here.

An order stands at one step, the command whose answer it waits for:

    buy:  reserve --FundsReserved--> rest --match--> capture --HoldCaptured--> filled
    sell: rest (shares frozen) --match--> credit --AccountCredited--> filled

A match may take only part of the order (the book shows less than it wants): that batch
settles the same way, and then the rest of a limit order rests again (a buy first
holds its remainder's cash under a new hold, since a capture releases what it leaves),
while the rest of a market order is cancelled (best five, immediate-or-cancel).

`rest` sends nothing: the order waits on the market until its trading session ends,
and that deadline passing is its expiry. A buy that is cancelled, expires or is refused
after its cash is held goes through `release` before it ends, so no hold outlives its
order. Only a reservation gives up (after `max_attempts` sends, then releases): a
capture, credit, release or transfer is sent again until accounts answers, since
stopping would leave the order's or transfer's record wrong about money that moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from services.securities.domain.portfolio import Fill, OrderStatus, OrderType, Side
from services.securities.domain.rules import HoursMode, session_end
from shared.errors import DomainError
from shared.saga.model import (
    CANCELLED,
    COMPLETED,
    FAILED,
    IGNORE,
    Decision,
    Saga,
    Timeouts,
    end,
    move,
    on_deadline,
)

# The steps: the command in flight (shared.saga.model).
RESERVE = "reserve"  # a buy's ReserveFunds: hold its cash
REST = "rest"  # accepted, waiting on the market until its session ends; no command
CAPTURE = "capture"  # a matched buy's CaptureHold into securities settlement
CREDIT = "credit"  # a matched sell's CreditAccount from securities proceeds
RELEASE = "release"  # a buy's ReleaseHold: cancelled, expired or refused
TRANSFER = "transfer"  # a bank-securities TransferFunds

ORDER = "order"
BANK_TRANSFER = "bank_transfer"

# Why an order is cancelled; any other reason on an order is why it was rejected.
CUSTOMER = "customer"
EXPIRED = "expired"
NO_OPPOSITE_SIDE = "no_opposite_side"  # a market order met a sealed market (limit-up buy, limit-down sell)
UNMATCHED_REMAINDER = "unmatched_remainder"  # what a market order's five levels did not fill
REMAINDER_UNFUNDED = "remainder_unfunded"  # a part-filled buy's remainder could not be held again
CANCEL_REASONS = frozenset({CUSTOMER, EXPIRED, NO_OPPOSITE_SIDE, UNMATCHED_REMAINDER, REMAINDER_UNFUNDED})
TIMEOUT = "timeout"
PRICE_ABOVE_RESERVATION = "price_above_reservation"
PROCEEDS_BELOW_FEES = "proceeds_below_fees"


class OrderNotFound(DomainError):
    code = "not-found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} was not found")


class OrderNotCancellable(DomainError):
    code = "order-not-cancellable"


class OrderState(Saga, Protocol):
    """What an order's decisions read of it, besides its saga columns."""

    side: str
    order_type: str
    quantity: int
    filled_quantity: int
    bank_day: date
    reserved_minor: int


def order_status(o: OrderState) -> OrderStatus:
    """The order's public status. A buy refused after its cash was held shows `rejected`
    at once, while its release is still on the way."""
    if o.outcome == COMPLETED:
        return OrderStatus.FILLED
    if o.outcome == CANCELLED:
        return OrderStatus.CANCELLED
    if o.outcome is not None:
        return OrderStatus.REJECTED
    if o.step == RELEASE:
        return OrderStatus.CANCELLING if o.reason in CANCEL_REASONS else OrderStatus.REJECTED
    if o.step in (CAPTURE, CREDIT):
        return OrderStatus.FILLING
    if o.filled_quantity:
        return OrderStatus.PARTIALLY_FILLED
    if o.step == REST:
        return OrderStatus.ACCEPTED
    return OrderStatus.PENDING


@dataclass(frozen=True)
class OrderSaga:
    """A day order: hold a buy's cash (or freeze a sell's shares, before the saga
    starts), rest on the market until it matches or its session ends, then settle the
    cash with accounts. `timeouts.max_attempts` bounds the reservation's sends only."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    hours: HoursMode = HoursMode.ALWAYS_OPEN

    def on_placed(self, o: OrderState) -> Decision:
        return move(RESERVE) if o.side == Side.BUY else self._rest(o)

    def on_funds_reserved(self, o: OrderState) -> Decision:
        if o.step == RESERVE:
            return self._rest(o)
        if o.outcome in (FAILED, CANCELLED):
            # A hold that landed after its order ended: free it (a release is idempotent).
            return Decision(send=(RELEASE,))
        return IGNORE

    def on_reservation_rejected(self, o: OrderState, reason: str, detail: str) -> Decision:
        if o.step == RESERVE and o.filled_quantity:
            # The filled part stands; the rest cannot wait without its cash.
            return end(CANCELLED, REMAINDER_UNFUNDED, f"the unfilled remainder could not be held again: {detail}")
        if o.step == RESERVE:
            return end(FAILED, reason, detail)
        if o.step == RELEASE:  # nothing was held, so nothing is left to release
            return self._released(o)
        return IGNORE

    def on_match(self, o: OrderState, fill: Fill, now: datetime) -> Decision:
        """The market matched the order, or part of it (`fill` totals the batch): settle
        it with accounts. A day order past its session trades no more; the sweeper
        expires it."""
        if o.step != REST or (o.deadline_at is not None and now >= o.deadline_at):
            return IGNORE
        if o.side == Side.BUY:
            if fill.amount_minor > o.reserved_minor:
                # The hold must cover the capture; a reservation at the day's limit-up does.
                return move(RELEASE, PRICE_ABOVE_RESERVATION, "the price rose above what the order reserved")
            return move(CAPTURE)
        if fill.amount_minor <= 0:
            return end(FAILED, PROCEEDS_BELOW_FEES, "the sale would raise less than its fees")
        return move(CREDIT)

    def on_no_opposite_side(self, o: OrderState, detail: str) -> Decision:
        """A market order found no one on the other side (sealed at a limit): it is
        cancelled rather than filled, as the exchanges cancel a market order's
        unmatched remainder; a buy releases its hold first."""
        if o.step != REST:
            return IGNORE
        return self._cancel(o, NO_OPPOSITE_SIDE, detail)

    def on_cancel(self, o: OrderState) -> Decision:
        """The customer's cancel: an open order ends (a buy once its hold is released);
        one already cancelled or cancelling stays as it is."""
        status = order_status(o)
        if status in (OrderStatus.CANCELLING, OrderStatus.CANCELLED):
            return IGNORE
        if status is OrderStatus.FILLING:
            raise OrderNotCancellable(
                f"order {o.id} is filling: accounts is settling a fill; cancel what is left once it has settled"
            )
        if status is OrderStatus.FILLED:
            raise OrderNotCancellable(f"order {o.id} is already {status}: a filled order cannot be cancelled")
        if status == OrderStatus.REJECTED:
            raise OrderNotCancellable(f"order {o.id} was rejected ({o.reason}); there is nothing to cancel")
        return self._cancel(o, CUSTOMER)

    def on_hold_released(self, o: OrderState) -> Decision:
        return self._released(o) if o.step == RELEASE else IGNORE

    def on_settled(self, o: OrderState) -> Decision:
        """accounts settled the batch (its shares are in `filled_quantity` now): the
        order is filled, or a market order's remainder is cancelled, or a limit order's
        remainder rests again (a buy once its cash is held again)."""
        if o.step not in (CAPTURE, CREDIT):
            return IGNORE
        if o.filled_quantity >= o.quantity:
            return end(COMPLETED)
        left = o.quantity - o.filled_quantity
        if o.order_type == OrderType.MARKET:
            return end(
                CANCELLED,
                UNMATCHED_REMAINDER,
                f"{left} shares found no match in the best five levels: a market order's unmatched "
                "remainder is cancelled (best five, immediate-or-cancel)",
            )
        return move(RESERVE) if o.side == Side.BUY else self._rest(o)

    def on_hold_captured(self, o: OrderState) -> Decision:
        return self.on_settled(o) if o.step == CAPTURE else IGNORE

    def on_capture_rejected(self, o: OrderState, reason: str, detail: str) -> Decision:
        return move(RELEASE, reason, detail) if o.step == CAPTURE else IGNORE

    def on_account_credited(self, o: OrderState) -> Decision:
        return self.on_settled(o) if o.step == CREDIT else IGNORE

    def on_credit_rejected(self, o: OrderState, reason: str, detail: str) -> Decision:
        return end(FAILED, reason, detail) if o.step == CREDIT else IGNORE

    def on_deadline(self, o: OrderState) -> Decision:
        if o.step == REST:
            return self._cancel(o, EXPIRED)
        if o.step == RESERVE:
            reason = REMAINDER_UNFUNDED if o.filled_quantity else TIMEOUT
            give_up = move(RELEASE, reason, "accounts did not answer the reserve step in time")
        else:
            give_up = Decision(retry=True)
        return on_deadline(o, self.timeouts, give_up)

    def _rest(self, o: OrderState) -> Decision:
        return move(REST, deadline=session_end(self.hours, o.bank_day))

    def _cancel(self, o: OrderState, reason: str, detail: str | None = None) -> Decision:
        return move(RELEASE, reason, detail) if o.side == Side.BUY else end(CANCELLED, reason, detail)

    def _released(self, o: OrderState) -> Decision:
        return end(CANCELLED) if o.reason in CANCEL_REASONS else end(FAILED)


def transfer_status(t: Saga) -> str:
    """pending, completed or failed."""
    return t.outcome or "pending"


@dataclass(frozen=True)
class BankTransferSaga:
    """One TransferFunds between the customer's own accounts, sent until accounts
    answers: a transfer cannot be taken back, so giving up would only hide whether the
    money moved."""

    timeouts: Timeouts = field(default_factory=Timeouts)

    def on_requested(self) -> Decision:
        return move(TRANSFER)

    def on_transferred(self, t: Saga) -> Decision:
        return end(COMPLETED) if t.step == TRANSFER else IGNORE

    def on_transfer_rejected(self, t: Saga, reason: str, detail: str) -> Decision:
        return end(FAILED, reason, detail) if t.step == TRANSFER else IGNORE

    def on_deadline(self, t: Saga) -> Decision:
        return on_deadline(t, self.timeouts, Decision(retry=True))
