"""Orders as sagas: place (checks, then hold cash or freeze shares), match against the
simulated market, accounts' answers, the customer's cancel and the sweeper's deadlines.
Each use case loads the order, asks its decider (`domain.OrderSaga`) and carries the
decision out; the decisions themselves live in `domain/sagas.py`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.securities import domain, store
from services.securities.domain import OrderStatus, OrderType, Side, order_status
from services.securities.domain.sagas import CAPTURE, CREDIT, ORDER, RELEASE, RESERVE, REST, TIMEOUT
from services.securities.handlers.context import CREDIT_PREFIX, HOLD_PREFIX, Context, hold_id, order_leg
from services.securities.handlers.messages import (
    batch_total,
    cancelled_event,
    execution_event,
    fills_to_json,
    order_event,
    pending_fills,
    step_command,
)
from shared.events import accounts as acc
from shared.events import securities as ev
from shared.kafka.messaging import UnitOfWork
from shared.money import format_minor
from shared.saga.model import COMPLETED, Decision, advance
from shared.saga.store import audit_saga, correlated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: Decimal | None = None


# --- placing and cancelling orders ----------------------------------------------------------


async def place_order(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    account_id: str,
    key: str | None,
    req: OrderRequest,
    available_minor: int | None = None,
    correlation_id: str | None = None,
) -> tuple[store.Order, bool]:
    """Check an order against the day's rules and start its saga. Returns the order and
    whether it is new (False: this Idempotency-Key already made it). `available_minor`,
    when known, is the cash account's available balance: a buy reserving more is refused
    at once, saying why it reserves what it does (accounts' hold is still the real check)."""
    session = uow.session
    if key is not None and (existing := await store.order_by_key(session, customer_id, key)) is not None:
        return existing, False
    ctx.sync_day()
    instrument = domain.find_instrument(req.symbol, ctx.sim.instruments)
    if instrument is None:
        raise domain.UnknownSymbol(f"there is no listing {req.symbol!r} in the sandbox market")
    ctx.require_open()
    quote = ctx.sim.quote(instrument.symbol)
    limit_price = None
    if req.order_type is OrderType.LIMIT:
        if req.price is None:
            raise domain.InvalidPrice("a limit order needs a price")
        limit_price = domain.parse_price(req.price, instrument)
        domain.check_price_in_band(limit_price, quote.band, instrument)
    elif req.price is not None:
        raise domain.InvalidPrice("a market order takes no price; it fills at the current one")
    now, today = ctx.clock.now(), ctx.today()
    order = store.Order(
        id=str(uuid.uuid4()),
        kind=ORDER,
        attempts=0,
        customer_id=customer_id,
        idempotency_key=key,
        account_id=account_id,
        symbol=instrument.symbol,
        side=req.side,
        order_type=req.order_type,
        quantity=req.quantity,
        limit_price_milli=limit_price,
        reserved_minor=0,
        bank_day=today,
        correlation_id=correlation_id,
        created_at=now,
        updated_at=now,
    )
    if req.side is Side.BUY:
        domain.check_buy_quantity(req.quantity, instrument)
        if domain.restricted_board(instrument) is not None:
            domain.check_enabled(instrument, set(await store.enabled_boards(session, customer_id)))
        order.reserved_minor = domain.reservation_minor(
            instrument, req.order_type, limit_price, quote.band, req.quantity, ctx.fees
        )
        if available_minor is not None and order.reserved_minor > available_minor:
            basis = domain.reservation_basis(
                instrument, req.order_type, limit_price, quote.band, req.quantity, ctx.fees
            )
            raise domain.InsufficientCash(
                f"available balance {format_minor(available_minor)} CNY is less than the "
                f"{format_minor(order.reserved_minor)} CNY this order reserves: {basis}"
            )
    else:
        position = await store.load_position(session, customer_id, instrument.symbol)
        position.freeze_for_sale(req.quantity, ctx.unsettled_since(), instrument)
        estimate = domain.make_fill(Side.SELL, instrument, limit_price or quote.last, req.quantity, ctx.fees)
        if estimate.amount_minor <= 0:
            raise domain.ProceedsBelowFees(
                f"selling {req.quantity} {instrument.symbol} would raise less than its fees "
                f"(minimum commission {domain.format_price(ctx.fees.min_commission_minor * 10, places=2)} CNY)"
            )
        await store.save_position(session, customer_id, position, now)
    session.add(order)
    await session.flush()
    with correlated(correlation_id):
        audit_saga(uow, order, ended=False)
        uow.publish(
            ev.OrderPlaced(
                order_id=order.id,
                customer_id=customer_id,
                symbol=order.symbol,
                side=order.side,  # type: ignore[arg-type]
                order_type=order.order_type,  # type: ignore[arg-type]
                quantity=order.quantity,
                limit_price_milli=limit_price,
                account_id=account_id,
                reserved_minor=order.reserved_minor,
                bank_day=today.isoformat(),
            )
        )
    await _carry_out(ctx, uow, order, ctx.orders.on_placed(order))
    await try_fill(ctx, uow, order, on_arrival=True)
    return order, True


async def cancel_order(ctx: Context, uow: UnitOfWork, *, customer_id: str, order_id: str) -> store.Order:
    """Cancel an open order: a sell at once, a buy once accounts releases its hold.
    Cancelling an order already cancelled (or being cancelled) answers it unchanged."""
    order = await store.order_for_update(uow.session, order_id)
    # Another customer's order is indistinguishable from a missing one.
    if order is None or order.customer_id != customer_id:
        raise domain.OrderNotFound(order_id)
    await _carry_out(ctx, uow, order, ctx.orders.on_cancel(order))
    return order


# --- matching against the simulated market ------------------------------------------------


async def try_fill(ctx: Context, uow: UnitOfWork, order: store.Order, *, on_arrival: bool) -> bool:
    """Match a resting order against the simulated book, as far as the book and its price
    allow, and start settling the batch matched. An order arriving marketable (and every
    market order) takes the levels at their prices; a resting remainder trades at its
    limit against the levels that moved through it. A market order that finds no one on
    the other side is cancelled."""
    if order.step != REST or order.outcome is not None or not ctx.market_open():
        return False
    # What does not fill now rests: the ticker looks at every step again, once the order
    # is committed (woken before, its look may not see the order yet and go back to idling).
    uow.after_commit.append(ctx.wanted.set)
    side, order_type = Side(order.side), OrderType(order.order_type)
    quote = ctx.sim.quote(order.symbol)
    left = order.quantity - order.filled_quantity
    executions = domain.walk(
        side,
        order_type,
        order.limit_price_milli,
        left,
        quote.opposite(side is Side.BUY),
        taker=on_arrival or order_type is OrderType.MARKET,
    )
    if not executions:
        if order_type is OrderType.MARKET:
            await _carry_out(ctx, uow, order, ctx.orders.on_no_opposite_side(order, _sealed_detail(side, quote)))
        return False
    fills = domain.price_fills(
        side,
        quote.instrument,
        executions,
        ctx.fees,
        prior_gross_minor=order.gross_minor or 0,
        prior_commission_minor=order.commission_minor or 0,
    )
    decision = ctx.orders.on_match(order, batch_total(fills), ctx.clock.now())
    matched = decision.step in (CAPTURE, CREDIT)
    if matched:
        ctx.sim.take(order.symbol, side is Side.BUY, [(e.price_milli, e.quantity) for e in executions])
        if side is Side.SELL and order.filled_quantity:
            order.leg += 1  # each part of a sale is its own credit
        order.pending_fills = fills_to_json(fills)
        order.trade_day = ctx.today()
        order.matched_at = ctx.clock.now()
    await _carry_out(ctx, uow, order, decision)
    return matched


def _sealed_detail(side: Side, quote: domain.Quote) -> str:
    limit = "limit-up" if side is Side.BUY else "limit-down"
    price = domain.format_price(quote.last, quote.instrument)
    nobody = "no sellers" if side is Side.BUY else "no buyers"
    return (
        f"{quote.symbol} is sealed at {limit} {price} with {nobody}: a market order's unmatched "
        "quantity is cancelled (best five, immediate-or-cancel)"
    )


# --- accounts' answers ----------------------------------------------------------------------


async def when_funds_reserved_accept_order(ctx: Context, uow: UnitOfWork, msg: acc.FundsReserved) -> None:
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None:
        held_now = order.step == RESERVE
        await _carry_out(ctx, uow, order, ctx.orders.on_funds_reserved(order))
        # A new buy arrives on the market now; a part-filled one's remainder rests on. An
        # answer repeated (to a reservation sent again) leaves a resting buy resting: arriving
        # a second time, it would take the book's price instead of trading at its limit.
        if held_now:
            await try_fill(ctx, uow, order, on_arrival=order.filled_quantity == 0)


async def when_reservation_rejected_reject_order(ctx: Context, uow: UnitOfWork, msg: acc.ReservationRejected) -> None:
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None:
        detail = f"{msg.detail}; {_basis(ctx, order)}" if msg.reason == "insufficient_funds" else msg.detail
        await _carry_out(ctx, uow, order, ctx.orders.on_reservation_rejected(order, msg.reason, detail))


def _basis(ctx: Context, order: store.Order) -> str:
    """Why the buy reserved what it did. The band is today's: a reservation is answered
    within its bank day, and a market buy reserved at that day's limit-up."""
    quote = ctx.sim.quote(order.symbol)
    order_type = OrderType(order.order_type)
    return domain.reservation_basis(
        quote.instrument, order_type, order.limit_price_milli, quote.band, order.quantity, ctx.fees
    )


async def when_hold_released_end_order(ctx: Context, uow: UnitOfWork, msg: acc.HoldReleased) -> None:
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None:
        decision = ctx.orders.on_hold_released(order)
        await _carry_out(ctx, uow, order, decision, released_minor=msg.amount_minor)


async def when_hold_captured_fill_buy(ctx: Context, uow: UnitOfWork, msg: acc.HoldCaptured) -> None:
    """The batch's cash is in settlement: its shares are the customer's."""
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None and order.step == CAPTURE:
        await _settle_batch(ctx, uow, order, released_minor=max(0, order.reserved_minor - msg.amount_minor))


async def when_capture_rejected_release_buy(ctx: Context, uow: UnitOfWork, msg: acc.CaptureRejected) -> None:
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None:
        await _carry_out(ctx, uow, order, ctx.orders.on_capture_rejected(order, msg.reason, msg.detail))


async def when_account_credited_fill_sale(ctx: Context, uow: UnitOfWork, msg: acc.AccountCredited) -> None:
    """The batch's proceeds are in the customer's cash account: its shares are gone."""
    if (order := await _order_for(uow, msg.credit_id, CREDIT_PREFIX)) is not None and order.step == CREDIT:
        await _settle_batch(ctx, uow, order)


async def when_credit_rejected_reject_sale(ctx: Context, uow: UnitOfWork, msg: acc.CreditRejected) -> None:
    if (order := await _order_for(uow, msg.credit_id, CREDIT_PREFIX)) is not None:
        await _carry_out(ctx, uow, order, ctx.orders.on_credit_rejected(order, msg.reason, msg.detail))


async def _order_for(uow: UnitOfWork, business_id: str, prefix: str) -> store.Order | None:
    """The order a fact about one of its holds or credits is for; a fact about a leg the
    order has moved past (or not reached) is not the current step's answer."""
    found = order_leg(business_id, prefix)
    if found is None:
        return None
    order_id, leg = found
    order = await store.order_for_update(uow.session, order_id)
    if order is None or leg != order.leg:
        return None
    return order


# --- deadlines (the sweeper's hand-off) -------------------------------------------------------


async def orders_overdue(ctx: Context, uow: UnitOfWork, ids: Sequence[str], now: datetime) -> None:
    """Each order still past its deadline: a resting one expires, a step in flight is
    sent again, or a reservation gives up, as the decider says."""
    for order_id in ids:
        order = await store.order_for_update(uow.session, order_id)
        if order is None or order.deadline_at is None or order.deadline_at >= now:
            continue  # a fact moved it since the sweeper looked
        decision = ctx.orders.on_deadline(order)
        if decision.step == RELEASE and decision.reason == TIMEOUT:
            log.warning("order %s: no answer to the reservation after %d sends; releasing", order.id, order.attempts)
        await _carry_out(ctx, uow, order, decision)


# --- carrying a decision out ---------------------------------------------------------------------


async def _carry_out(
    ctx: Context, uow: UnitOfWork, order: store.Order, decision: Decision, *, released_minor: int = 0
) -> None:
    """Move the order as decided, send the commands of its new step, and settle what its
    new status means: the position, and the fact on securities.events."""
    if decision.ignored:
        return
    before = order_status(order)
    with correlated(order.correlation_id):
        for step in advance(order, decision, ctx.clock.now(), ctx.orders.timeouts):
            if (command := step_command(order, step)) is not None:
                uow.publish(command)
        if decision.outcome is not None:
            audit_saga(uow, order, ended=True)
        after = order_status(order)
        if after != before:
            await _tell(ctx, uow, order, after, released_minor)


async def _tell(ctx: Context, uow: UnitOfWork, order: store.Order, status: OrderStatus, released_minor: int) -> None:
    if status == OrderStatus.ACCEPTED:
        uow.publish(order_event(ev.OrderAccepted, order, hold_id=hold_id(order.id) if order.side == Side.BUY else None))
    elif status == OrderStatus.FILLING:
        uow.publish(execution_event(ev.OrderMatched, order, batch_total(pending_fills(order))))
    elif status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        left = order.quantity - order.filled_quantity
        if order.side == Side.SELL and left > 0:
            position = await store.load_position(uow.session, order.customer_id, order.symbol)
            position.unfreeze(left)
            await store.save_position(uow.session, order.customer_id, position, order.updated_at)
        if status == OrderStatus.CANCELLED:
            uow.publish(cancelled_event(order, released_minor))
        else:
            detail = order.detail or ""
            uow.publish(order_event(ev.OrderRejected, order, reason=order.reason, detail=detail))


async def _settle_batch(ctx: Context, uow: UnitOfWork, order: store.Order, *, released_minor: int = 0) -> None:
    """accounts moved the batch's cash: the position follows fill by fill (bought shares
    in, sold shares out at average cost), each fill leaves its trade confirmation, and
    the order's totals grow. Then the order is filled, or its remainder rests again (a
    buy holding its cash anew) or is cancelled (a market order's)."""
    fills = pending_fills(order)
    if not fills or order.trade_day is None:
        raise ValueError(f"order {order.id} settled a batch it does not have")
    now = ctx.clock.now()
    position = await store.load_position(uow.session, order.customer_id, order.symbol)
    realised = 0
    for f in fills:
        pnl = None
        if order.side == Side.BUY:
            position.add_purchase(f.quantity, f.amount_minor, order.trade_day)
        else:
            pnl = position.settle_sale(f.quantity, f.amount_minor)
            realised += pnl
        uow.session.add(_confirmation(order, f, pnl, now))
    await store.save_position(uow.session, order.customer_id, position, now)
    batch = batch_total(fills)
    _add_to_totals(order, batch, realised)
    order.pending_fills = None
    decision = ctx.orders.on_settled(order)
    if decision.step == RESERVE:
        # The capture released what the hold did not pay; the remainder is held anew.
        order.leg += 1
        order.reserved_minor = domain.remainder_reservation(
            ctx.sim.instrument(order.symbol),
            order.limit_price_milli or 0,
            order.quantity - order.filled_quantity,
            ctx.fees,
            prior_gross_minor=order.gross_minor or 0,
            prior_commission_minor=order.commission_minor or 0,
        )
    extra = {"realised_pnl_minor": realised} if order.side == Side.SELL else {}
    with correlated(order.correlation_id):
        if decision.outcome == COMPLETED:
            whole = _order_total(order)
            uow.publish(execution_event(ev.OrderFilled, order, whole, position_quantity=position.quantity, **extra))
        else:
            uow.publish(
                execution_event(
                    ev.OrderPartiallyFilled,
                    order,
                    batch,
                    filled_quantity=order.filled_quantity,
                    remaining_quantity=order.quantity - order.filled_quantity,
                    position_quantity=position.quantity,
                    **extra,
                )
            )
    await _carry_out(ctx, uow, order, decision, released_minor=released_minor)


def _add_to_totals(order: store.Order, batch: domain.Fill, realised_minor: int) -> None:
    before = order.filled_quantity
    prices = [(order.fill_price_milli or 0, before), (batch.price_milli, batch.quantity)]
    order.filled_quantity = before + batch.quantity
    order.fill_price_milli = domain.average_price_milli([p for p in prices if p[1]])
    order.gross_minor = (order.gross_minor or 0) + batch.gross_minor
    order.commission_minor = (order.commission_minor or 0) + batch.commission_minor
    order.stamp_duty_minor = (order.stamp_duty_minor or 0) + batch.stamp_duty_minor
    order.amount_minor = (order.amount_minor or 0) + batch.amount_minor
    if order.side == Side.SELL:
        order.realised_pnl_minor = (order.realised_pnl_minor or 0) + realised_minor


def _order_total(order: store.Order) -> domain.Fill:
    return domain.Fill(
        Side(order.side),
        order.filled_quantity,
        order.fill_price_milli or 0,
        order.gross_minor or 0,
        order.commission_minor or 0,
        order.stamp_duty_minor or 0,
    )


def _confirmation(order: store.Order, fill: domain.Fill, pnl: int | None, settled_at: datetime) -> store.Trade:
    """One fill's trade confirmation, as accounts settled it. Transfer fees (过户费) are
    not modelled, so they read 0."""
    if order.trade_day is None:
        raise ValueError(f"order {order.id} has no execution to confirm")
    return store.Trade(
        id=str(uuid.uuid4()),
        order_id=order.id,
        customer_id=order.customer_id,
        account_id=order.account_id,
        symbol=order.symbol,
        side=order.side,
        quantity=fill.quantity,
        price_milli=fill.price_milli,
        gross_minor=fill.gross_minor,
        commission_minor=fill.commission_minor,
        stamp_duty_minor=fill.stamp_duty_minor,
        transfer_fee_minor=0,
        net_minor=fill.amount_minor,
        realised_pnl_minor=pnl,
        trade_day=order.trade_day,
        traded_at=order.matched_at or settled_at,
        settled_at=settled_at,
    )
