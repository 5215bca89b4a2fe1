"""The order and bank-securities transfer sagas' decisions as pure objects: a saga in
memory, a fact (or a match, a cancel, a deadline) in, a decision out. No database, no
broker. Dropped, duplicated and late facts included, and a simulated accounts behind a
lossy channel to show every order ends terminal with no hold left behind."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.securities.domain import (
    BankTransferSaga,
    Fill,
    HoursMode,
    OrderNotCancellable,
    OrderSaga,
    OrderStatus,
    Side,
    order_status,
    session_end,
    transfer_status,
)
from services.securities.domain.sagas import (
    CAPTURE,
    CREDIT,
    CUSTOMER,
    EXPIRED,
    NO_OPPOSITE_SIDE,
    PRICE_ABOVE_RESERVATION,
    PROCEEDS_BELOW_FEES,
    RELEASE,
    REMAINDER_UNFUNDED,
    RESERVE,
    REST,
    TIMEOUT,
    TRANSFER,
    UNMATCHED_REMAINDER,
)
from shared.saga.model import CANCELLED, COMPLETED, FAILED, IGNORE, Decision, Timeouts, advance, end, move

DAY = date(2026, 5, 20)
NOW = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
STEP = timedelta(seconds=5)
SAGA = OrderSaga(Timeouts(step=STEP, max_attempts=3))
TRANSFERS = BankTransferSaga(Timeouts(step=STEP, max_attempts=3))
MIDNIGHT = session_end(HoursMode.ALWAYS_OPEN, DAY)


@dataclass
class Row:
    """A saga row as the tables have it (shared.saga.store.SagaColumns), in memory."""

    id: str = "saga-1"
    kind: str = "order"
    step: str | None = RESERVE
    attempts: int = 1
    deadline_at: datetime | None = NOW + STEP
    outcome: str | None = None
    reason: str | None = None
    detail: str | None = None
    updated_at: datetime = NOW
    ended_at: datetime | None = None


@dataclass
class Order(Row):
    side: str = Side.BUY
    order_type: str = "limit"
    quantity: int = 100
    filled_quantity: int = 0
    bank_day: date = DAY
    reserved_minor: int = 1_060_00


def resting(**changes: Any) -> Order:
    return replace(Order(step=REST, deadline_at=MIDNIGHT), **changes)


def ended(outcome: str, reason: str | None = None, **changes: Any) -> Order:
    return replace(Order(step=None, deadline_at=None, outcome=outcome, reason=reason), **changes)


def fill(side: Side = Side.BUY, amount_minor: int = 1_055_00) -> Fill:
    # A fill's amount is gross plus fees (buy) or less fees (sell); 5.00 commission here.
    gross = amount_minor - 500 if side is Side.BUY else amount_minor + 500
    return Fill(side, 100, gross // 100 * 10, gross, 500, 0)


# --- public status --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "status"),
    [
        (Order(), OrderStatus.PENDING),
        (resting(), OrderStatus.ACCEPTED),
        (Order(step=CAPTURE), OrderStatus.FILLING),
        (Order(step=CREDIT, side=Side.SELL), OrderStatus.FILLING),
        (Order(step=RELEASE, reason=CUSTOMER), OrderStatus.CANCELLING),
        (Order(step=RELEASE, reason=EXPIRED), OrderStatus.CANCELLING),
        (Order(step=RELEASE, reason=NO_OPPOSITE_SIDE), OrderStatus.CANCELLING),
        (Order(step=RELEASE, reason=TIMEOUT), OrderStatus.REJECTED),
        (Order(step=RELEASE, reason="hold_not_active"), OrderStatus.REJECTED),
        (ended(COMPLETED), OrderStatus.FILLED),
        (ended(CANCELLED, EXPIRED), OrderStatus.CANCELLED),
        (ended(FAILED, "insufficient_funds"), OrderStatus.REJECTED),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_public_status_follows_from_the_step_and_the_outcome(order: Order, status: OrderStatus) -> None:
    assert order_status(order) == status


# --- placing and the cash hold ----------------------------------------------------------------


def test_a_buy_starts_by_holding_its_cash() -> None:
    assert SAGA.on_placed(Order(step=None)) == move(RESERVE)


@pytest.mark.parametrize(
    ("hours", "deadline"),
    [
        (HoursMode.ALWAYS_OPEN, datetime(2026, 5, 20, 16, 0, tzinfo=UTC)),  # midnight in Beijing
        (HoursMode.A_SHARE, datetime(2026, 5, 20, 7, 0, tzinfo=UTC)),  # the 15:00 close
    ],
)
def test_a_sell_rests_at_once_until_its_session_ends(hours: HoursMode, deadline: datetime) -> None:
    saga = OrderSaga(SAGA.timeouts, hours)
    assert saga.on_placed(Order(step=None, side=Side.SELL)) == move(REST, deadline=deadline)


def test_held_cash_puts_a_buy_on_the_market_until_its_session_ends() -> None:
    assert SAGA.on_funds_reserved(Order()) == move(REST, deadline=MIDNIGHT)


@pytest.mark.parametrize(
    "order",
    [resting(), Order(step=CAPTURE), Order(step=RELEASE, reason=CUSTOMER), ended(COMPLETED)],
    ids=["resting", "capturing", "cancelling", "filled"],
)
def test_a_duplicated_or_late_hold_changes_nothing(order: Order) -> None:
    assert SAGA.on_funds_reserved(order) is IGNORE


@pytest.mark.parametrize("order", [ended(FAILED, TIMEOUT), ended(CANCELLED, CUSTOMER)], ids=["rejected", "cancelled"])
def test_a_hold_that_lands_after_its_order_ended_is_released(order: Order) -> None:
    assert SAGA.on_funds_reserved(order) == Decision(send=(RELEASE,))


def test_a_refused_reservation_rejects_the_buy_with_accounts_reason() -> None:
    assert SAGA.on_reservation_rejected(Order(), "insufficient_funds", "short") == end(
        FAILED, "insufficient_funds", "short"
    )


def test_a_refused_reservation_ends_a_cancel_with_nothing_to_release() -> None:
    assert SAGA.on_reservation_rejected(Order(step=RELEASE, reason=CUSTOMER), "insufficient_funds", "") == end(
        CANCELLED
    )


def test_a_duplicated_refusal_changes_nothing() -> None:
    assert SAGA.on_reservation_rejected(ended(FAILED, "insufficient_funds"), "insufficient_funds", "") is IGNORE


# --- the market -------------------------------------------------------------------------------


def test_a_matched_buy_captures_and_a_matched_sell_is_credited() -> None:
    assert SAGA.on_match(resting(), fill(), NOW) == move(CAPTURE)
    assert SAGA.on_match(resting(side=Side.SELL), fill(Side.SELL), NOW) == move(CREDIT)


def test_a_buy_whose_fill_costs_more_than_its_hold_is_released_not_captured() -> None:
    decision = SAGA.on_match(resting(reserved_minor=1_000_00), fill(), NOW)
    assert (decision.step, decision.reason) == (RELEASE, PRICE_ABOVE_RESERVATION)


def test_a_sale_that_would_raise_less_than_its_fees_is_rejected() -> None:
    decision = SAGA.on_match(resting(side=Side.SELL), fill(Side.SELL, amount_minor=0), NOW)
    assert (decision.outcome, decision.reason) == (FAILED, PROCEEDS_BELOW_FEES)


@pytest.mark.parametrize(
    ("order", "now"),
    [(Order(), NOW), (Order(step=CAPTURE), NOW), (ended(CANCELLED, CUSTOMER), NOW), (resting(), MIDNIGHT)],
    ids=["pending", "already matched", "cancelled", "its session is over"],
)
def test_only_an_order_resting_in_its_session_is_matched(order: Order, now: datetime) -> None:
    assert SAGA.on_match(order, fill(), now) is IGNORE


# --- the customer's cancel ---------------------------------------------------------------------


@pytest.mark.parametrize("order", [Order(), resting()], ids=["pending", "accepted"])
def test_cancelling_an_open_buy_releases_its_hold(order: Order) -> None:
    assert SAGA.on_cancel(order) == move(RELEASE, CUSTOMER)


def test_a_market_buy_facing_a_sealed_market_is_cancelled_and_releases_its_hold() -> None:
    decision = SAGA.on_no_opposite_side(resting(), "sealed at limit-up")
    assert decision == move(RELEASE, NO_OPPOSITE_SIDE, "sealed at limit-up")
    order = resting()
    advance(order, decision, NOW, SAGA.timeouts)
    assert order_status(order) == OrderStatus.CANCELLING
    advance(order, SAGA.on_hold_released(order), NOW, SAGA.timeouts)
    assert (order_status(order), order.reason, order.detail) == (
        OrderStatus.CANCELLED,
        NO_OPPOSITE_SIDE,
        "sealed at limit-up",
    )


def test_a_market_sell_facing_a_sealed_market_is_cancelled_at_once() -> None:
    decision = SAGA.on_no_opposite_side(resting(side=Side.SELL), "sealed at limit-down")
    assert decision == end(CANCELLED, NO_OPPOSITE_SIDE, "sealed at limit-down")


@pytest.mark.parametrize("order", [Order(), Order(step=CAPTURE), ended(CANCELLED, CUSTOMER)], ids=str)
def test_only_a_resting_order_is_cancelled_for_want_of_an_opposite_side(order: Order) -> None:
    assert SAGA.on_no_opposite_side(order, "sealed") is IGNORE


def test_cancelling_a_resting_sell_ends_it_at_once() -> None:
    assert SAGA.on_cancel(resting(side=Side.SELL)) == end(CANCELLED, CUSTOMER)


@pytest.mark.parametrize(
    "order", [Order(step=RELEASE, reason=CUSTOMER), ended(CANCELLED, CUSTOMER)], ids=["cancelling", "cancelled"]
)
def test_cancelling_again_changes_nothing(order: Order) -> None:
    assert SAGA.on_cancel(order) is IGNORE


@pytest.mark.parametrize(
    ("order", "words"),
    [
        (Order(step=CAPTURE), "is filling: accounts is settling a fill"),
        (ended(COMPLETED), "already filled"),
        (ended(FAILED, "insufficient_funds"), "was rejected (insufficient_funds)"),
        (Order(step=RELEASE, reason=TIMEOUT), "was rejected (timeout)"),
    ],
    ids=["filling", "filled", "rejected", "rejected, releasing"],
)
def test_a_matched_or_rejected_order_cannot_be_cancelled(order: Order, words: str) -> None:
    with pytest.raises(OrderNotCancellable, match=words.replace("(", r"\(").replace(")", r"\)")):
        SAGA.on_cancel(order)


# --- accounts' answers to settlement and release ---------------------------------------------


def test_a_released_hold_ends_a_cancel_as_cancelled_and_a_refusal_as_rejected() -> None:
    assert SAGA.on_hold_released(Order(step=RELEASE, reason=EXPIRED)) == end(CANCELLED)
    assert SAGA.on_hold_released(Order(step=RELEASE, reason=TIMEOUT)) == end(FAILED)


@pytest.mark.parametrize("order", [resting(), ended(CANCELLED, CUSTOMER)], ids=["resting", "duplicate"])
def test_a_release_the_order_did_not_ask_for_changes_nothing(order: Order) -> None:
    assert SAGA.on_hold_released(order) is IGNORE


def test_a_captured_hold_fills_the_buy_once() -> None:
    assert SAGA.on_hold_captured(Order(step=CAPTURE, filled_quantity=100)) == end(COMPLETED)
    assert SAGA.on_hold_captured(ended(COMPLETED)) is IGNORE


# --- partial fills ----------------------------------------------------------------------------


def test_a_settled_part_leaves_a_limit_buy_to_hold_its_remainder_again_and_a_sell_to_rest() -> None:
    assert SAGA.on_settled(Order(step=CAPTURE, quantity=500, filled_quantity=300)) == move(RESERVE)
    sell = Order(step=CREDIT, side=Side.SELL, quantity=500, filled_quantity=300)
    assert SAGA.on_settled(sell) == move(REST, deadline=MIDNIGHT)
    assert SAGA.on_settled(Order(step=REST, quantity=500, filled_quantity=300)) is IGNORE


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_market_orders_unmatched_remainder_is_cancelled_once_its_part_settled(side: Side) -> None:
    step = CAPTURE if side is Side.BUY else CREDIT
    decision = SAGA.on_settled(Order(step=step, side=side, order_type="market", quantity=900, filled_quantity=600))
    assert (decision.outcome, decision.reason) == (CANCELLED, UNMATCHED_REMAINDER)
    assert "300 shares found no match in the best five levels" in (decision.detail or "")


def test_a_part_filled_order_shows_it_and_can_be_cancelled_but_not_while_its_part_settles() -> None:
    part = resting(quantity=500, filled_quantity=200)
    assert order_status(part) == OrderStatus.PARTIALLY_FILLED
    assert order_status(replace(part, step=RESERVE)) == OrderStatus.PARTIALLY_FILLED
    assert SAGA.on_cancel(part) == move(RELEASE, CUSTOMER)
    with pytest.raises(OrderNotCancellable, match="filling"):
        SAGA.on_cancel(replace(part, step=CAPTURE))


def test_a_remainder_that_cannot_be_held_again_is_cancelled_and_the_filled_part_stands() -> None:
    again = Order(step=RESERVE, quantity=500, filled_quantity=200)
    decision = SAGA.on_reservation_rejected(again, "insufficient_funds", "short")
    assert (decision.outcome, decision.reason) == (CANCELLED, REMAINDER_UNFUNDED)
    assert SAGA.on_reservation_rejected(Order(), "insufficient_funds", "short") == end(
        FAILED, "insufficient_funds", "short"
    )


def test_a_refused_capture_releases_the_hold_and_rejects_the_buy() -> None:
    decision = SAGA.on_capture_rejected(Order(step=CAPTURE), "hold_not_active", "hold is released")
    assert decision == move(RELEASE, "hold_not_active", "hold is released")
    assert SAGA.on_capture_rejected(ended(COMPLETED), "hold_not_active", "") is IGNORE


def test_credited_proceeds_fill_the_sale_once_and_a_refused_credit_rejects_it() -> None:
    selling = Order(step=CREDIT, side=Side.SELL, filled_quantity=100)
    assert SAGA.on_account_credited(selling) == end(COMPLETED)
    assert SAGA.on_account_credited(ended(COMPLETED, side=Side.SELL)) is IGNORE
    assert SAGA.on_credit_rejected(selling, "account_not_found", "gone") == end(FAILED, "account_not_found", "gone")
    assert SAGA.on_credit_rejected(ended(COMPLETED, side=Side.SELL), "account_not_found", "") is IGNORE


# --- deadlines --------------------------------------------------------------------------------


def test_a_day_order_expires_when_its_session_ends() -> None:
    assert SAGA.on_deadline(resting()) == move(RELEASE, EXPIRED)
    assert SAGA.on_deadline(resting(side=Side.SELL)) == end(CANCELLED, EXPIRED)


def test_an_unanswered_reservation_is_sent_again_then_given_up_and_released() -> None:
    assert SAGA.on_deadline(Order(attempts=2)) == Decision(retry=True)
    give_up = SAGA.on_deadline(Order(attempts=3))
    assert (give_up.step, give_up.reason) == (RELEASE, TIMEOUT)


@pytest.mark.parametrize("step", [CAPTURE, CREDIT, RELEASE])
def test_a_settlement_or_a_release_is_sent_until_accounts_answers(step: str) -> None:
    assert SAGA.on_deadline(Order(step=step, attempts=40, reason=CUSTOMER)) == Decision(retry=True)


def test_a_clock_moved_a_day_ahead_sends_the_step_in_flight_once_more() -> None:
    order = Order(attempts=1)
    a_day_later = NOW + timedelta(days=1)

    sent = advance(order, SAGA.on_deadline(order), a_day_later, SAGA.timeouts)

    assert sent == (RESERVE,)
    assert (order.step, order.attempts, order.deadline_at) == (RESERVE, 2, a_day_later + 2 * STEP)


def test_an_ended_order_has_no_deadline_to_act_on() -> None:
    assert SAGA.on_deadline(ended(COMPLETED)) is IGNORE


# --- bank-securities transfers ----------------------------------------------------------------


@dataclass
class Transfer(Row):
    kind: str = "bank_transfer"
    step: str | None = TRANSFER


def test_a_transfer_sends_one_transfer_and_ends_with_accounts_answer() -> None:
    assert TRANSFERS.on_requested() == move(TRANSFER)
    assert TRANSFERS.on_transferred(Transfer()) == end(COMPLETED)
    assert TRANSFERS.on_transfer_rejected(Transfer(), "insufficient_funds", "short") == end(
        FAILED, "insufficient_funds", "short"
    )


@pytest.mark.parametrize("outcome", [COMPLETED, FAILED])
def test_a_duplicated_or_late_transfer_answer_changes_nothing(outcome: str) -> None:
    done = Transfer(step=None, deadline_at=None, outcome=outcome)
    assert TRANSFERS.on_transferred(done) is IGNORE
    assert TRANSFERS.on_transfer_rejected(done, "insufficient_funds", "") is IGNORE
    assert TRANSFERS.on_deadline(done) is IGNORE


def test_an_unanswered_transfer_is_sent_until_accounts_answers() -> None:
    assert TRANSFERS.on_deadline(Transfer(attempts=40)) == Decision(retry=True)


def test_a_transfers_public_status_is_its_outcome_or_pending() -> None:
    assert [transfer_status(t) for t in (Transfer(), Transfer(step=None, outcome=FAILED))] == ["pending", FAILED]


# --- a lossy channel to a simulated accounts ---------------------------------------------------


@dataclass
class Accounts:
    """accounts as the sagas see it: every command applied once by its business id, a
    repeat answered with the fact it already produced."""

    funds_minor: int
    holds: dict[str, str] = field(default_factory=dict)  # hold id -> active | released | captured | rejected
    captured_minor: int = 0
    credited_minor: int = 0

    def apply(self, command: str, amount_minor: int) -> str:
        status = self.holds.get("h")
        if command == RESERVE:
            if status is None:
                status = "active" if amount_minor <= self.funds_minor else "rejected"
        elif command == RELEASE:
            status = "released" if status in (None, "active") else status
        elif command == CAPTURE:
            if status == "active":
                status, self.captured_minor = "captured", self.captured_minor + amount_minor
            elif status != "captured":
                return "capture_rejected"
        elif command == CREDIT:
            if self.credited_minor == 0:
                self.credited_minor = amount_minor
            return "credited"
        self.holds["h"] = status
        return {"active": "reserved", "released": "released", "captured": "captured", "rejected": "refused"}[status]


def _settled(o: Order, answer: Any) -> Decision:
    """As the handler does: the batch's shares count as filled once accounts settled it."""
    if o.step in (CAPTURE, CREDIT):
        o.filled_quantity = o.quantity
    decision: Decision = answer(o)
    return decision


def _answer(o: Order, fact: str) -> Decision:
    return {
        "reserved": SAGA.on_funds_reserved,
        "refused": lambda o: SAGA.on_reservation_rejected(o, "insufficient_funds", "short"),
        "released": SAGA.on_hold_released,
        "captured": lambda o: _settled(o, SAGA.on_hold_captured),
        "capture_rejected": lambda o: SAGA.on_capture_rejected(o, "hold_not_active", ""),
        "credited": lambda o: _settled(o, SAGA.on_account_credited),
    }[fact](o)


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    funds_minor=st.sampled_from([0, 2_000_00]),
    at_rest=st.sampled_from(["match", "cancel", "expire"]),
    faults=st.lists(st.sampled_from(["deliver", "drop", "duplicate", "late"]), max_size=30),
)
def test_every_order_ends_and_holds_nothing_whatever_the_channel_drops_or_repeats(
    side: Side, funds_minor: int, at_rest: str, faults: list[str]
) -> None:
    order, accounts, now = Order(step=None, side=side), Accounts(funds_minor), NOW
    in_flight: list[str] = []  # facts on their way back, oldest first
    late: list[str] = []  # facts held back until the order has nothing left to wait for
    channel = iter(faults)

    def carry_out(decision: Decision) -> None:
        for step in advance(order, decision, now, SAGA.timeouts):
            if step != REST:
                amount = order.reserved_minor if step == RESERVE else 1_055_00
                fact = accounts.apply(step, amount)
                fault = next(channel, "deliver")
                if fault != "drop":
                    (late if fault == "late" else in_flight).extend([fact] * (2 if fault == "duplicate" else 1))

    carry_out(SAGA.on_placed(order))
    for _ in range(200):
        if in_flight:
            carry_out(_answer(order, in_flight.pop(0)))
        elif order.step == REST and at_rest == "match":
            carry_out(SAGA.on_match(order, fill(side), now))
        elif order.step == REST and at_rest == "cancel":
            carry_out(SAGA.on_cancel(order))
        elif order.deadline_at is not None:
            now = max(now, order.deadline_at) + timedelta(seconds=1)
            carry_out(SAGA.on_deadline(order))
        elif late:
            carry_out(_answer(order, late.pop(0)))
        else:
            break
    assert order.outcome is not None and order.step is None, order
    assert accounts.holds.get("h") != "active", (order, accounts)
    filled = order.outcome == COMPLETED
    assert filled == (accounts.captured_minor > 0 if side is Side.BUY else accounts.credited_minor > 0)
    assert accounts.captured_minor in (0, 1_055_00)
