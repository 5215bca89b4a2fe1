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
from services.securities.domain.sagas import CAPTURE, CREDIT, ORDER, RELEASE, TIMEOUT
from services.securities.handlers.context import CREDIT_PREFIX, HOLD_PREFIX, Context, hold_id, ours
from services.securities.handlers.messages import cancelled_event, execution_event, order_event, step_command
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
        position.freeze_for_sale(req.quantity, today, instrument)
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
    """Execute a resting order if the current price allows, and start settling it."""
    if order_status(order) != OrderStatus.ACCEPTED or not ctx.market_open():
        return False
    side, order_type = Side(order.side), OrderType(order.order_type)
    quote = ctx.sim.quote(order.symbol)
    match = domain.matching(side, order_type, order.limit_price_milli, quote.last, quote.band)
    if match is domain.Match.CANCEL:
        await _carry_out(ctx, uow, order, ctx.orders.on_no_opposite_side(order, _sealed_detail(side, quote)))
        return False
    if match is domain.Match.REST:
        return False
    price = domain.execution_price(order_type, order.limit_price_milli, quote.last, on_arrival=on_arrival)
    fill = domain.make_fill(side, quote.instrument, price, order.quantity, ctx.fees)
    decision = ctx.orders.on_match(order, fill, ctx.clock.now())
    matched = decision.step in (CAPTURE, CREDIT)
    if matched:
        order.trade_day = ctx.today()
        order.matched_at = ctx.clock.now()
        order.fill_price_milli = fill.price_milli
        order.gross_minor = fill.gross_minor
        order.commission_minor = fill.commission_minor
        order.stamp_duty_minor = fill.stamp_duty_minor
        order.amount_minor = fill.amount_minor
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
        await _carry_out(ctx, uow, order, ctx.orders.on_funds_reserved(order))
        await try_fill(ctx, uow, order, on_arrival=True)


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
    """The buy's cash is in settlement: the shares are the customer's."""
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None:
        await _fill(ctx, uow, order, ctx.orders.on_hold_captured(order), msg.amount_minor)


async def when_capture_rejected_release_buy(ctx: Context, uow: UnitOfWork, msg: acc.CaptureRejected) -> None:
    if (order := await _order_for(uow, msg.hold_id, HOLD_PREFIX)) is not None:
        await _carry_out(ctx, uow, order, ctx.orders.on_capture_rejected(order, msg.reason, msg.detail))


async def when_account_credited_fill_sale(ctx: Context, uow: UnitOfWork, msg: acc.AccountCredited) -> None:
    """The sale's proceeds are in the customer's cash account: the shares are gone."""
    if (order := await _order_for(uow, msg.credit_id, CREDIT_PREFIX)) is not None:
        await _fill(ctx, uow, order, ctx.orders.on_account_credited(order), msg.amount_minor)


async def when_credit_rejected_reject_sale(ctx: Context, uow: UnitOfWork, msg: acc.CreditRejected) -> None:
    if (order := await _order_for(uow, msg.credit_id, CREDIT_PREFIX)) is not None:
        await _carry_out(ctx, uow, order, ctx.orders.on_credit_rejected(order, msg.reason, msg.detail))


async def _fill(ctx: Context, uow: UnitOfWork, order: store.Order, decision: Decision, moved_minor: int) -> None:
    """accounts moved the fill's cash: what it moved is the order's amount from now on."""
    if decision.outcome == COMPLETED:
        order.amount_minor = moved_minor
    await _carry_out(ctx, uow, order, decision)


async def _order_for(uow: UnitOfWork, business_id: str, prefix: str) -> store.Order | None:
    order_id = ours(business_id, prefix)
    if order_id is None:
        return None
    return await store.order_for_update(uow.session, order_id)


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
        uow.publish(execution_event(ev.OrderMatched, order))
    elif status == OrderStatus.FILLED:
        await _settle(ctx, uow, order)
    elif status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        if order.side == Side.SELL:
            position = await store.load_position(uow.session, order.customer_id, order.symbol)
            position.unfreeze(order.quantity)
            await store.save_position(uow.session, order.customer_id, position, order.updated_at)
        if status == OrderStatus.CANCELLED:
            uow.publish(cancelled_event(order, released_minor))
        else:
            detail = order.detail or ""
            uow.publish(order_event(ev.OrderRejected, order, reason=order.reason, detail=detail))


async def _settle(ctx: Context, uow: UnitOfWork, order: store.Order) -> None:
    """accounts moved the fill's cash: the position follows (bought shares in, sold out)."""
    if order.amount_minor is None or order.trade_day is None:
        raise ValueError(f"order {order.id} filled without an execution")
    position = await store.load_position(uow.session, order.customer_id, order.symbol)
    if order.side == Side.BUY:
        position.add_purchase(order.quantity, order.amount_minor, order.trade_day)
    else:
        order.realised_pnl_minor = position.settle_sale(order.quantity, order.amount_minor)
    await store.save_position(uow.session, order.customer_id, position, order.updated_at)
    uow.session.add(_confirmation(order))
    extra = {"realised_pnl_minor": order.realised_pnl_minor} if order.side == Side.SELL else {}
    uow.publish(execution_event(ev.OrderFilled, order, position_quantity=position.quantity, **extra))


def _confirmation(order: store.Order) -> store.Trade:
    """The fill's trade confirmation, as accounts settled it. Transfer fees (过户费) are
    not modelled, so they read 0."""
    if order.trade_day is None or order.fill_price_milli is None or order.amount_minor is None:
        raise ValueError(f"order {order.id} has no execution to confirm")
    return store.Trade(
        id=str(uuid.uuid4()),
        order_id=order.id,
        customer_id=order.customer_id,
        account_id=order.account_id,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        price_milli=order.fill_price_milli,
        gross_minor=order.gross_minor or 0,
        commission_minor=order.commission_minor or 0,
        stamp_duty_minor=order.stamp_duty_minor or 0,
        transfer_fee_minor=0,
        net_minor=order.amount_minor,
        realised_pnl_minor=order.realised_pnl_minor if order.side == Side.SELL else None,
        trade_day=order.trade_day,
        traded_at=order.matched_at or order.updated_at,
        settled_at=order.updated_at,
    )
