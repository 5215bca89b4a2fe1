"""Order and position routes."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.securities import domain, handlers, store, views
from services.securities.deps import AccountsDep, ContextDep, RuntimeDep, json_answer, listed_symbol
from shared.auth import CurrentCustomer
from shared.idempotency import OptionalIdempotencyKey, create_once
from shared.observability import correlation_id_var
from shared.pagination import PageDep, decode_seq, encode_seq
from shared.problems import PROBLEM, not_found
from shared.runtime import Runtime
from shared.schemas.securities import OrderCreate, OrderPage, OrderPublic, OrderStatusFilter, PositionList

router = APIRouter(responses={401: PROBLEM})


@router.post(
    "/v1/securities/orders",
    status_code=202,
    response_model=OrderPublic,
    tags=["orders"],
    responses={
        200: {"model": OrderPublic, "description": "The order this Idempotency-Key already placed"},
        403: PROBLEM,
        409: PROBLEM,
        422: PROBLEM,
    },
    summary="Place an order",
)
async def place_order(
    body: OrderCreate,
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    accounts: AccountsDep,
    idempotency_key: OptionalIdempotencyKey,
) -> JSONResponse:
    """Checks the order against today's rules (listing, lots of 100 for buys, limit
    price on the tick and inside the daily limits, T+1 sellable shares for sells,
    trading hours) and answers 202 with the order. A buy is `pending` until accounts
    holds its cash (price x quantity + commission; market buys at the limit-up price),
    then `accepted`; an order is `filling` once executed and `filled` when accounts has
    settled the cash. The same Idempotency-Key returns the order it made (200)."""
    if idempotency_key is not None:
        async with runtime.db.read() as session:
            existing = await store.order_by_key(session, principal.customer_id, idempotency_key)
        if existing is not None:
            return _answer(views.order_public(existing, ctx), 200, replayed=True)
    account = domain.securities_account(await accounts.accounts_of(principal.customer_id), principal.customer_id)
    cash = await accounts.balance(account.id) if body.side == "buy" else None
    req = handlers.OrderRequest(
        symbol=body.symbol,
        side=domain.Side(body.side),
        order_type=domain.OrderType(body.type),
        quantity=body.quantity,
        price=body.price,
    )
    order, created = await create_once(
        runtime,
        partial(
            handlers.place_order,
            ctx,
            customer_id=principal.customer_id,
            account_id=account.id,
            key=idempotency_key,
            req=req,
            available_minor=cash.available_minor if cash is not None else None,
            correlation_id=correlation_id_var.get(),
        ),
        store.order_by_key,
        principal.customer_id,
        idempotency_key,
    )
    return _answer(views.order_public(order, ctx), 202 if created else 200, replayed=not created)


@router.get("/v1/securities/orders", response_model=OrderPage, tags=["orders"], summary="The customer's orders")
async def list_orders(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    page: PageDep,
    status: Annotated[OrderStatusFilter | None, Query(description="`open`: not yet in a final state")] = None,
    symbol: Annotated[str | None, Query(max_length=12)] = None,
) -> OrderPage:
    """Newest first; follow `next_cursor` for older ones."""
    query = select(store.Order).where(store.Order.customer_id == principal.customer_id)
    if status is not None:
        query = query.where(store.order_status_is(status))
    if (listed := listed_symbol(ctx, symbol)) is not None:
        query = query.where(store.Order.symbol == listed)
    before = decode_seq(page.cursor, of="orders")
    if before is not None:
        query = query.where(store.Order.seq < before)
    async with runtime.db.read() as session:
        rows = (await session.scalars(query.order_by(store.Order.seq.desc()).limit(page.limit + 1))).all()
    items = [views.order_public(o, ctx) for o in rows[: page.limit]]
    return OrderPage(
        items=items, next_cursor=encode_seq(rows[page.limit - 1].seq, of="orders") if len(rows) > page.limit else None
    )


async def _own_order(runtime: Runtime, customer_id: str, order_id: str) -> store.Order:
    async with runtime.db.read() as session:
        order = await session.scalar(select(store.Order).where(store.Order.id == order_id))
    # Another customer's order is indistinguishable from a missing one.
    if order is None or order.customer_id != customer_id:
        raise not_found("order", order_id)
    return order


@router.get(
    "/v1/securities/orders/{order_id}",
    response_model=OrderPublic,
    tags=["orders"],
    responses={404: PROBLEM},
    summary="One order",
)
async def get_order(order_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> OrderPublic:
    return views.order_public(await _own_order(runtime, principal.customer_id, order_id), ctx)


@router.delete(
    "/v1/securities/orders/{order_id}",
    status_code=202,
    response_model=OrderPublic,
    tags=["orders"],
    responses={404: PROBLEM, 409: PROBLEM},
    summary="Cancel an order",
)
async def cancel_order(order_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> JSONResponse:
    """Every cancel answers 202 with the order as it now stands: a sell is `cancelled`
    at once (its shares unfrozen), a buy `cancelling` until accounts releases its hold,
    then `cancelled`. Cancelling it again answers the same. An order already filling or
    filled answers 409."""
    async with runtime.unit_of_work() as uow:
        order = await handlers.cancel_order(ctx, uow, customer_id=principal.customer_id, order_id=order_id)
    return _answer(views.order_public(order, ctx), 202)


# --- positions ------------------------------------------------------------------------------


@router.get(
    "/v1/securities/positions", response_model=PositionList, tags=["positions"], summary="The customer's holdings"
)
async def list_positions(principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> PositionList:
    """Quantity, T+1 sellable quantity, average cost (buy fees included), market value
    at the last price and unrealised P&L per holding, with portfolio totals."""
    ctx.sync_day()
    async with runtime.db.read() as session:
        rows = (
            await session.scalars(
                select(store.Position)
                .where(store.Position.customer_id == principal.customer_id, store.Position.quantity > 0)
                .order_by(store.Position.symbol)
            )
        ).all()
    today = ctx.unsettled_since()
    items = []
    for row in rows:
        p = store.position_to_domain(row)
        items.append(views.position_public(p, ctx.sim.quote(p.symbol), today))
    return PositionList(items=items, totals=views.portfolio_totals(items))


def _answer(model: OrderPublic, status: int, *, replayed: bool = False) -> JSONResponse:
    return json_answer(model, model.links["self"], status, replayed=replayed)
