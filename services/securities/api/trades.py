"""Trade confirmations and realised P&L routes: what was traded, kept after the
positions are gone."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, func, select

from services.securities import store, views
from services.securities.deps import ContextDep, RuntimeDep, listed_symbol
from shared.auth import CurrentCustomer
from shared.listing import FromDay, ToDay, bank_days
from shared.money import format_minor
from shared.pagination import PageDep, decode_seq, encode_seq
from shared.problems import PROBLEM, not_found
from shared.schemas.securities import RealisedPnl, SymbolPnl, TradePage, TradePublic

router = APIRouter(responses={401: PROBLEM})


def _filters(customer_id: str, symbol: str | None, first: FromDay, last: ToDay) -> list[ColumnElement[bool]]:
    bank_days(first, last)  # a range that ends before it starts is a 422
    where: list[ColumnElement[bool]] = [store.Trade.customer_id == customer_id]
    if symbol is not None:
        where.append(store.Trade.symbol == symbol)
    if first is not None:
        where.append(store.Trade.trade_day >= first)
    if last is not None:
        where.append(store.Trade.trade_day <= last)
    return where


@router.get(
    "/v1/securities/trades",
    response_model=TradePage,
    tags=["trades"],
    responses={422: PROBLEM},
    summary="The customer's trade confirmations",
)
async def list_trades(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    page: PageDep,
    symbol: Annotated[str | None, Query(max_length=12)] = None,
    side: Annotated[Literal["buy", "sell"] | None, Query()] = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> TradePage:
    """One confirmation per settled fill (price, gross, commission, stamp duty, transfer
    fee, net, and a sell's realised P&L), newest first; `from`/`to` are bank days."""
    query = select(store.Trade).where(*_filters(principal.customer_id, listed_symbol(ctx, symbol), from_, to))
    if side is not None:
        query = query.where(store.Trade.side == side)
    before = decode_seq(page.cursor, of="trades")
    if before is not None:
        query = query.where(store.Trade.seq < before)
    async with runtime.db.read() as session:
        rows = (await session.scalars(query.order_by(store.Trade.seq.desc()).limit(page.limit + 1))).all()
    items = [views.trade_public(t, ctx) for t in rows[: page.limit]]
    return TradePage(
        items=items, next_cursor=encode_seq(rows[page.limit - 1].seq, of="trades") if len(rows) > page.limit else None
    )


@router.get(
    "/v1/securities/trades/{trade_id}",
    response_model=TradePublic,
    tags=["trades"],
    responses={404: PROBLEM},
    summary="One trade confirmation",
)
async def get_trade(trade_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> TradePublic:
    async with runtime.db.read() as session:
        trade = await session.scalar(select(store.Trade).where(store.Trade.id == trade_id))
    # Another customer's trade is indistinguishable from a missing one.
    if trade is None or trade.customer_id != principal.customer_id:
        raise not_found("trade", trade_id)
    return views.trade_public(trade, ctx)


@router.get(
    "/v1/securities/pnl",
    response_model=RealisedPnl,
    tags=["trades"],
    responses={422: PROBLEM},
    summary="Realised P&L by symbol",
)
async def realised_pnl(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    symbol: Annotated[str | None, Query(max_length=12)] = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> RealisedPnl:
    """The realised P&L of the sell trades in a range of bank days, per symbol, whether
    or not the position is still held."""
    where = _filters(principal.customer_id, listed_symbol(ctx, symbol), from_, to)
    query = (
        select(
            store.Trade.symbol,
            func.count(),
            func.sum(store.Trade.quantity),
            func.sum(store.Trade.realised_pnl_minor),
        )
        .where(*where, store.Trade.side == "sell")
        .group_by(store.Trade.symbol)
        .order_by(store.Trade.symbol)
    )
    async with runtime.db.read() as session:
        rows = (await session.execute(query)).all()
    items = [
        SymbolPnl(
            symbol=sym,
            name=ctx.sim.instrument(sym).name,
            sells=int(sells),
            quantity_sold=int(quantity or 0),
            realised_pnl=format_minor(int(pnl or 0)),
            realised_pnl_minor=int(pnl or 0),
        )
        for sym, sells, quantity, pnl in rows
    ]
    total = sum(i.realised_pnl_minor for i in items)
    return RealisedPnl(items=items, total=format_minor(total), total_minor=total)
