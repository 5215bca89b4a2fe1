"""The public bodies (shared/schemas/securities.py) built from the simulated market's
quotes and instruments and from the store's rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.securities import domain, store
from services.securities.handlers import Context
from shared.money import format_minor
from shared.saga.model import COMPLETED
from shared.schemas.securities import (
    BankTransferPublic,
    BarList,
    BarPublic,
    DepthLevel,
    InstrumentPublic,
    OrderPublic,
    PortfolioTotals,
    PositionPublic,
    QuotePublic,
    TickList,
    TickPublic,
    TradePublic,
)

# --- market data --------------------------------------------------------------------------------


def percent(part: int, whole: int) -> str:
    """`part` of `whole` in percent to two places, rounded half away from zero as money is
    (a quote's change, a position's unrealised P&L): -0.7576% reads -0.76, not -0.75
    (alerts compare thresholds with the change truncated, domain.change_bp). 0.00 of nothing."""
    return format_minor(domain.div_half_up(part * 10_000, whole) if whole else 0)  # hundredths, as fen


def quote_public(q: domain.Quote, market_open: bool) -> QuotePublic:
    i = q.instrument

    def price(milli: int | None) -> str | None:
        return None if milli is None else domain.format_price(milli, i)

    bids, asks = q.depth()
    return QuotePublic(
        symbol=i.symbol,
        name=i.name,
        exchange=i.exchange.value,
        board=i.board.value,
        st=i.st,
        last=domain.format_price(q.last, i),
        prev_close=domain.format_price(q.prev_close, i),
        change=domain.format_price(q.change, i),
        change_pct=percent(q.change, q.prev_close),
        bid=price(q.bid),
        ask=price(q.ask),
        limit_up=domain.format_price(q.band.up, i),
        limit_down=domain.format_price(q.band.down, i),
        limit_pct=i.limit_bp // 100,
        open=domain.format_price(q.open, i),
        high=domain.format_price(q.high, i),
        low=domain.format_price(q.low, i),
        volume=q.volume,
        turnover=format_minor(q.turnover_minor),
        turnover_minor=q.turnover_minor,
        tick_size=domain.format_price(i.tick_milli, i),
        lot_size=i.lot_size,
        pinned=q.pinned,
        market_open=market_open,
        bank_day=q.day.isoformat() if q.day else None,
        seq=q.seq,
        bids=[DepthLevel(price=domain.format_price(lv.price, i), quantity=lv.quantity) for lv in bids],
        asks=[DepthLevel(price=domain.format_price(lv.price, i), quantity=lv.quantity) for lv in asks],
    )


def ticks_public(ticks: Sequence[domain.Tick], instrument: domain.Instrument, day: date | None) -> TickList:
    return TickList(
        symbol=instrument.symbol,
        bank_day=day.isoformat() if day else None,
        items=[TickPublic(at=t.at, price=domain.format_price(t.price, instrument), volume=t.volume) for t in ticks],
    )


def bars_public(bars: Sequence[domain.Bar], instrument: domain.Instrument) -> BarList:
    def price(milli: int) -> str:
        return domain.format_price(milli, instrument)

    return BarList(
        symbol=instrument.symbol,
        period="day",
        items=[
            BarPublic(
                day=b.day.isoformat(),
                open=price(b.open),
                high=price(b.high),
                low=price(b.low),
                close=price(b.close),
                volume=b.volume,
                turnover=format_minor(b.turnover_minor),
                turnover_minor=b.turnover_minor,
                complete=b.complete,
            )
            for b in bars
        ],
    )


def instrument_public(i: domain.Instrument) -> InstrumentPublic:
    return InstrumentPublic(
        symbol=i.symbol,
        name=i.name,
        exchange=i.exchange.value,
        board=i.board.value,
        st=i.st,
        tick_size=domain.format_price(i.tick_milli, i),
        lot_size=i.lot_size,
        limit_pct=i.limit_bp // 100,
        stamp_duty_exempt=i.stamp_duty_exempt,
    )


# --- orders and positions -----------------------------------------------------------------------


def order_public(o: store.Order, ctx: Context) -> OrderPublic:
    instrument = ctx.sim.instrument(o.symbol)

    def money(minor: int | None) -> str | None:
        return None if minor is None else format_minor(minor)

    # What the order holds now: an ended order (filled, cancelled, rejected) holds nothing.
    held = o.reserved_minor if o.outcome is None else 0
    return OrderPublic(
        id=o.id,
        symbol=o.symbol,
        name=instrument.name,
        side=o.side,  # type: ignore[arg-type]
        type=o.order_type,  # type: ignore[arg-type]
        quantity=o.quantity,
        price=domain.format_price(o.limit_price_milli, instrument) if o.limit_price_milli is not None else None,
        status=domain.order_status(o).value,
        reason=o.reason,
        detail=o.detail,
        account_id=o.account_id,
        reserved=format_minor(held),
        reserved_minor=held,
        filled_quantity=o.filled_quantity,
        remaining_quantity=o.quantity - o.filled_quantity if o.outcome is None else 0,
        filled_price=_average(o.fill_price_milli, instrument),
        gross=money(o.gross_minor),
        gross_minor=o.gross_minor,
        commission=money(o.commission_minor),
        commission_minor=o.commission_minor,
        stamp_duty=money(o.stamp_duty_minor),
        stamp_duty_minor=o.stamp_duty_minor,
        amount=money(o.amount_minor),
        amount_minor=o.amount_minor,
        realised_pnl=money(o.realised_pnl_minor),
        realised_pnl_minor=o.realised_pnl_minor,
        bank_day=o.bank_day.isoformat(),
        created_at=o.created_at,
        updated_at=o.updated_at,
        filled_at=o.ended_at if o.outcome == COMPLETED else None,
        links={"self": f"/v1/securities/orders/{o.id}", "quote": f"/v1/market/quotes/{o.symbol}"},
    )


def _average(milli: int | None, instrument: domain.Instrument) -> str | None:
    """The average fill price at the tick, or to the milli-yuan when fills at several
    prices average between ticks (成交均价)."""
    if milli is None:
        return None
    places = instrument.price_places if milli % instrument.tick_milli == 0 else 3
    return domain.format_price(milli, places=places)


def trade_public(t: store.Trade, ctx: Context) -> TradePublic:
    instrument = ctx.sim.instrument(t.symbol)
    pnl = t.realised_pnl_minor
    return TradePublic(
        id=t.id,
        order_id=t.order_id,
        symbol=t.symbol,
        name=instrument.name,
        side=t.side,  # type: ignore[arg-type]
        quantity=t.quantity,
        price=domain.format_price(t.price_milli, instrument),
        gross=format_minor(t.gross_minor),
        gross_minor=t.gross_minor,
        commission=format_minor(t.commission_minor),
        commission_minor=t.commission_minor,
        stamp_duty=format_minor(t.stamp_duty_minor),
        stamp_duty_minor=t.stamp_duty_minor,
        transfer_fee=format_minor(t.transfer_fee_minor),
        transfer_fee_minor=t.transfer_fee_minor,
        net=format_minor(t.net_minor),
        net_minor=t.net_minor,
        realised_pnl=None if pnl is None else format_minor(pnl),
        realised_pnl_minor=pnl,
        account_id=t.account_id,
        trade_day=t.trade_day.isoformat(),
        traded_at=t.traded_at,
        settled_at=t.settled_at,
        links={"self": f"/v1/securities/trades/{t.id}", "order": f"/v1/securities/orders/{t.order_id}"},
    )


def position_public(p: domain.Position, quote: domain.Quote, today: date) -> PositionPublic:
    """A holding valued at the quote's last price."""
    i = quote.instrument
    pnl = p.unrealised_pnl_minor(quote.last)
    return PositionPublic(
        symbol=p.symbol,
        name=i.name,
        quantity=p.quantity,
        sellable_quantity=p.sellable(today),
        frozen_quantity=p.frozen,
        bought_today_quantity=p.bought_today(today),
        average_cost=domain.format_price(p.average_cost_milli(), places=3),
        cost=format_minor(p.cost_minor),
        cost_minor=p.cost_minor,
        last_price=domain.format_price(quote.last, i),
        market_value=format_minor(p.market_value_minor(quote.last)),
        market_value_minor=p.market_value_minor(quote.last),
        unrealised_pnl=format_minor(pnl),
        unrealised_pnl_minor=pnl,
        unrealised_pnl_pct=percent(pnl, p.cost_minor),
        realised_pnl=format_minor(p.realised_pnl_minor),
        realised_pnl_minor=p.realised_pnl_minor,
    )


def portfolio_totals(items: Sequence[PositionPublic]) -> PortfolioTotals:
    value = sum(i.market_value_minor for i in items)
    cost = sum(i.cost_minor for i in items)
    return PortfolioTotals(
        market_value=format_minor(value),
        market_value_minor=value,
        cost=format_minor(cost),
        cost_minor=cost,
        unrealised_pnl=format_minor(value - cost),
        unrealised_pnl_minor=value - cost,
    )


# --- bank-securities transfers ------------------------------------------------------------------


def transfer_public(t: store.BankTransfer) -> BankTransferPublic:
    return BankTransferPublic(
        id=t.id,
        direction=t.direction,  # type: ignore[arg-type]
        from_account_id=t.from_account_id,
        to_account_id=t.to_account_id,
        amount=format_minor(t.amount_minor, t.currency),
        amount_minor=t.amount_minor,
        currency=t.currency,
        status=domain.transfer_status(t),  # type: ignore[arg-type]
        reason=t.reason,
        detail=t.detail,
        created_at=t.created_at,
        updated_at=t.updated_at,
        links={"self": f"/v1/securities/transfers/{t.id}"},
    )
