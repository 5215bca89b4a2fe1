"""Orders as sagas: place (checks, then hold cash or freeze shares), match against the
simulated market, settle through accounts, cancel, expire, and give up on a step
accounts never answers."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.securities import domain, store
from services.securities.domain import OrderStatus, OrderType, Side
from services.securities.handlers.context import CREDIT_PREFIX, HOLD_PREFIX, Context, hold_id, ours
from services.securities.handlers.messages import cancelled_event, execution_event, order_event, step_command
from shared.events import accounts as acc
from shared.events import securities as ev
from shared.kafka.messaging import UnitOfWork

log = logging.getLogger(__name__)


class OrderNotFound(Exception):
    pass


class OrderNotCancellable(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: Decimal | None = None


# --- placing and cancelling orders ----------------------------------------------------------


async def place_order(
    ctx: Context, uow: UnitOfWork, *, customer_id: str, account_id: str, key: str | None, req: OrderRequest
) -> tuple[store.Order, bool]:
    """Check an order against the day's rules and start its saga. Returns the order and
    whether it is new (False: this Idempotency-Key already made it)."""
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
        settled=False,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    if req.side is Side.BUY:
        domain.check_buy_quantity(req.quantity, instrument)
        order.reserved_minor = domain.reservation_minor(
            instrument, req.order_type, limit_price, quote.band, req.quantity, ctx.fees
        )
        order.status = OrderStatus.PENDING
        _start_step(ctx, order, "reserve")
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
        order.status = OrderStatus.ACCEPTED
    session.add(order)
    await session.flush()
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
    if req.side is Side.BUY:
        uow.publish(step_command(order))
    else:
        uow.publish(order_event(ev.OrderAccepted, order))
        await try_fill(ctx, uow, order, on_arrival=True)
    return order, True


async def cancel_order(ctx: Context, uow: UnitOfWork, *, customer_id: str, order_id: str) -> store.Order:
    """Cancel an open order: a sell at once, a buy once accounts releases its hold.
    Cancelling an order already cancelled (or being cancelled) answers it unchanged."""
    order = await store.order_for_update(uow.session, order_id)
    if order is None or order.customer_id != customer_id:
        raise OrderNotFound(order_id)
    if order.status in (OrderStatus.CANCELLING, OrderStatus.CANCELLED):
        return order
    if order.status in (OrderStatus.FILLING, OrderStatus.FILLED):
        raise OrderNotCancellable(f"order {order_id} is already {order.status}: a filled order cannot be cancelled")
    if order.status == OrderStatus.REJECTED:
        raise OrderNotCancellable(f"order {order_id} was rejected ({order.reason}); there is nothing to cancel")
    await _cancel(ctx, uow, order, "customer")
    return order


async def _cancel(ctx: Context, uow: UnitOfWork, order: store.Order, reason: str) -> None:
    order.reason = reason
    order.updated_at = ctx.clock.now()
    if order.side == Side.BUY:
        order.status = OrderStatus.CANCELLING
        _start_step(ctx, order, "release")
        uow.publish(step_command(order))
        return
    position = await store.load_position(uow.session, order.customer_id, order.symbol)
    position.unfreeze(order.quantity)
    await store.save_position(uow.session, order.customer_id, position, order.updated_at)
    _end_step(order, OrderStatus.CANCELLED)
    uow.publish(cancelled_event(order, 0))


# --- matching against the simulated market ------------------------------------------------


async def try_fill(ctx: Context, uow: UnitOfWork, order: store.Order, *, on_arrival: bool) -> bool:
    """Execute an accepted order if the current price allows, and start settling it."""
    if order.status != OrderStatus.ACCEPTED or not ctx.market_open():
        return False
    side, order_type = Side(order.side), OrderType(order.order_type)
    quote = ctx.sim.quote(order.symbol)
    if not domain.crosses(side, order_type, order.limit_price_milli, quote.last):
        return False
    price = domain.execution_price(order_type, order.limit_price_milli, quote.last, on_arrival=on_arrival)
    fill = domain.make_fill(side, quote.instrument, price, order.quantity, ctx.fees)
    now = ctx.clock.now()
    order.updated_at = now
    if side is Side.BUY and fill.amount_minor > order.reserved_minor:
        # Only a market order reserved at an earlier day's limit-up can get here.
        await _reject(ctx, uow, order, "price_above_reservation", "the price rose above what the order reserved")
        return False
    if side is Side.SELL and fill.amount_minor <= 0:
        await _reject(ctx, uow, order, "proceeds_below_fees", "the sale would raise less than its fees")
        return False
    order.trade_day = ctx.today()
    order.fill_price_milli = fill.price_milli
    order.gross_minor = fill.gross_minor
    order.commission_minor = fill.commission_minor
    order.stamp_duty_minor = fill.stamp_duty_minor
    order.amount_minor = fill.amount_minor
    order.status = OrderStatus.FILLING
    _start_step(ctx, order, "capture" if side is Side.BUY else "credit")
    uow.publish(execution_event(ev.OrderMatched, order))
    uow.publish(step_command(order))
    return True


# --- accounts' answers ----------------------------------------------------------------------


async def when_funds_reserved_accept_order(ctx: Context, uow: UnitOfWork, msg: acc.FundsReserved) -> None:
    order = await _order_for(uow, msg.hold_id, HOLD_PREFIX)
    if order is None:
        return
    if order.status == OrderStatus.PENDING:
        _end_step(order, OrderStatus.ACCEPTED)
        order.updated_at = ctx.clock.now()
        uow.publish(order_event(ev.OrderAccepted, order, hold_id=msg.hold_id))
        await try_fill(ctx, uow, order, on_arrival=True)
    elif order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED) and not order.settled:
        # The hold landed after its order ended (timed out, say): free it again. The
        # release is idempotent, so repeating it is harmless.
        uow.publish(acc.ReleaseHold(account_id=order.account_id, hold_id=msg.hold_id))


async def when_reservation_rejected_reject_order(ctx: Context, uow: UnitOfWork, msg: acc.ReservationRejected) -> None:
    order = await _order_for(uow, msg.hold_id, HOLD_PREFIX)
    if order is None:
        return
    if order.status == OrderStatus.PENDING:
        await _reject(ctx, uow, order, msg.reason, msg.detail, release=False)
    elif order.status == OrderStatus.CANCELLING:
        _end_step(order, OrderStatus.CANCELLED)
        uow.publish(cancelled_event(order, 0))


async def when_hold_released_finish_cancel(ctx: Context, uow: UnitOfWork, msg: acc.HoldReleased) -> None:
    order = await _order_for(uow, msg.hold_id, HOLD_PREFIX)
    if order is None or order.status != OrderStatus.CANCELLING:
        return
    order.updated_at = ctx.clock.now()
    _end_step(order, OrderStatus.CANCELLED)
    uow.publish(cancelled_event(order, msg.amount_minor))


async def when_hold_captured_fill_buy(ctx: Context, uow: UnitOfWork, msg: acc.HoldCaptured) -> None:
    """The buy's cash is in settlement: the shares are the customer's."""
    order = await _order_for(uow, msg.hold_id, HOLD_PREFIX)
    if order is None or not _awaiting_settlement(order):
        return
    assert order.trade_day is not None
    now = ctx.clock.now()
    position = await store.load_position(uow.session, order.customer_id, order.symbol)
    position.add_purchase(order.quantity, msg.amount_minor, order.trade_day)
    await store.save_position(uow.session, order.customer_id, position, now)
    order.amount_minor = msg.amount_minor
    _settle(order, now)
    uow.publish(execution_event(ev.OrderFilled, order, position_quantity=position.quantity))


async def when_capture_rejected_fail_buy(ctx: Context, uow: UnitOfWork, msg: acc.CaptureRejected) -> None:
    order = await _order_for(uow, msg.hold_id, HOLD_PREFIX)
    if order is None or order.status != OrderStatus.FILLING:
        return
    await _reject(ctx, uow, order, msg.reason, msg.detail)


async def when_account_credited_fill_sale(ctx: Context, uow: UnitOfWork, msg: acc.AccountCredited) -> None:
    """The sale's proceeds are in the customer's cash account: the shares are gone."""
    order = await _order_for(uow, msg.credit_id, CREDIT_PREFIX)
    if order is None or not _awaiting_settlement(order):
        return
    now = ctx.clock.now()
    still_frozen = order.status == OrderStatus.FILLING
    position = await store.load_position(uow.session, order.customer_id, order.symbol)
    order.realised_pnl_minor = position.settle_sale(order.quantity, msg.amount_minor, frozen=still_frozen)
    await store.save_position(uow.session, order.customer_id, position, now)
    _settle(order, now)
    uow.publish(
        execution_event(
            ev.OrderFilled, order, position_quantity=position.quantity, realised_pnl_minor=order.realised_pnl_minor
        )
    )


async def when_credit_rejected_fail_sale(ctx: Context, uow: UnitOfWork, msg: acc.CreditRejected) -> None:
    order = await _order_for(uow, msg.credit_id, CREDIT_PREFIX)
    if order is None or order.status != OrderStatus.FILLING:
        return
    await _reject(ctx, uow, order, msg.reason, msg.detail)


def _awaiting_settlement(order: store.Order) -> bool:
    """A matched order whose cash side is not yet applied. A timed-out (rejected) one
    still counts: if accounts did move the money, the ledger is the truth."""
    if order.settled or order.fill_price_milli is None:
        return False
    return order.status == OrderStatus.FILLING or (order.status == OrderStatus.REJECTED and order.reason == "timeout")


def _settle(order: store.Order, now: datetime) -> None:
    _end_step(order, OrderStatus.FILLED)
    order.settled = True
    order.reason = order.detail = None
    order.filled_at = order.updated_at = now


async def _reject(
    ctx: Context, uow: UnitOfWork, order: store.Order, reason: str, detail: str, *, release: bool = True
) -> None:
    """End an order as rejected, giving back what it holds: a buy's cash hold (the
    release is idempotent, so sending one for a hold already gone is harmless) or a
    sell's frozen shares."""
    if order.side == Side.BUY:
        if release:
            uow.publish(acc.ReleaseHold(account_id=order.account_id, hold_id=hold_id(order.id)))
    elif order.status in (OrderStatus.ACCEPTED, OrderStatus.FILLING):
        position = await store.load_position(uow.session, order.customer_id, order.symbol)
        position.unfreeze(order.quantity)
        await store.save_position(uow.session, order.customer_id, position, ctx.clock.now())
    order.reason, order.detail = reason, detail[:300]
    order.updated_at = ctx.clock.now()
    _end_step(order, OrderStatus.REJECTED)
    uow.publish(order_event(ev.OrderRejected, order, reason=reason, detail=detail[:300]))


async def _order_for(uow: UnitOfWork, business_id: str, prefix: str) -> store.Order | None:
    order_id = ours(business_id, prefix)
    if order_id is None:
        return None
    return await store.order_for_update(uow.session, order_id)


# --- timeouts and day ends (the sweeper's use cases) -------------------------------------------


async def resend_or_fail_order_step(ctx: Context, uow: UnitOfWork, order: store.Order) -> None:
    """An order step overdue: send its command again, or after `max_attempts` sends
    end the order cleanly, releasing what it holds."""
    if order.step is None:
        return
    order.updated_at = ctx.clock.now()
    if order.attempts < ctx.settings.max_attempts:
        order.attempts += 1
        order.step_deadline_at = ctx.deadline()
        uow.publish(step_command(order))
        return
    log.warning("order %s: %s unanswered after %d sends; giving up", order.id, order.step, order.attempts)
    if order.step == "release":
        # The release is in Kafka and accounts applies it whenever it comes back.
        _end_step(order, OrderStatus.CANCELLED)
        uow.publish(cancelled_event(order, order.reserved_minor))
    else:
        await _reject(ctx, uow, order, "timeout", f"accounts did not answer the {order.step} step in time")


def expired(ctx: Context, order: store.Order) -> bool:
    """Orders are day orders: they lapse when their bank day (or its session) ends."""
    today = ctx.today()
    if order.bank_day < today:
        return True
    return order.bank_day == today and domain.after_close(ctx.settings.hours_mode, ctx.local_now())


async def expire_order(ctx: Context, uow: UnitOfWork, order: store.Order) -> None:
    if order.status == OrderStatus.ACCEPTED and expired(ctx, order):
        await _cancel(ctx, uow, order, "expired")


# --- saga state --------------------------------------------------------------------------------


def _start_step(ctx: Context, order: store.Order, step: str) -> None:
    order.step, order.attempts, order.step_deadline_at = step, 1, ctx.deadline()


def _end_step(order: store.Order, status: OrderStatus) -> None:
    order.status = status
    order.step = None
    order.step_deadline_at = None
