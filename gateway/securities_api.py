"""Gateway routes for securities: market data, the live quote stream, orders,
positions and bank-securities transfers, passed through to the securities service
(which verifies the token itself). Order and transfer POSTs move money, so they go
through `forward_idempotently` (Idempotency-Key required). The bodies are validated here
too, against the shapes securities serves (shared/schemas/securities.py), and forwarded
as they came.

The quote stream is served by securities and relayed here byte for byte with httpx
streaming: the gateway stays the phone's only address, and the stream ends when
either side goes away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from gateway.api import PROBLEM, Customer, Operator, UpstreamsDep
from gateway.idempotency import forward_idempotently
from gateway.sessions import Authenticated
from shared.observability import outgoing_headers
from shared.problems import unavailable
from shared.schemas.securities import (
    BankTransferCreate,
    BankTransferPage,
    BankTransferPublic,
    InstrumentList,
    OrderCreate,
    OrderPage,
    OrderPublic,
    PositionList,
    PriceSet,
    QuoteList,
    QuotePublic,
)

SERVICE = "securities"
# Securities sends a comment line at least this often; a quieter stream is dead.
STREAM_READ_TIMEOUT_S = 75.0

router = APIRouter(prefix="/v1", responses={401: PROBLEM})
market = APIRouter(prefix="/market", tags=["market"])
securities = APIRouter(prefix="/securities", tags=["securities"], responses={404: PROBLEM})

Symbol = Annotated[str, Path(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9.]+$")]
ResourceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
SymbolsQuery = Annotated[str | None, Query(max_length=600, description="Comma-separated; all when omitted")]


# --- market data ------------------------------------------------------------------------------


@market.get("/instruments", response_model=InstrumentList)
async def list_instruments(request: Request, principal: Authenticated, upstreams: UpstreamsDep) -> Response:
    """The simulated listings: board, daily limit, tick and lot size."""
    return await upstreams.forward(SERVICE, request, "/v1/market/instruments", token=principal.token)


@market.get("/quotes", response_model=QuoteList, responses={422: PROBLEM})
async def list_quotes(
    request: Request, principal: Authenticated, upstreams: UpstreamsDep, symbols: SymbolsQuery = None
) -> Response:
    """Quotes for `symbols` (e.g. `600519,000001`), or for every listing."""
    return await upstreams.forward(SERVICE, request, "/v1/market/quotes", token=principal.token)


@market.get("/quotes/{symbol}", response_model=QuotePublic, responses={404: PROBLEM})
async def get_quote(symbol: Symbol, request: Request, principal: Authenticated, upstreams: UpstreamsDep) -> Response:
    """Last price, change, best bid and ask, the day's limit prices and volume."""
    return await upstreams.forward(SERVICE, request, f"/v1/market/quotes/{symbol}", token=principal.token)


@market.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`event: quote` messages"}, 422: PROBLEM},
)
async def stream_quotes(
    request: Request,
    principal: Authenticated,
    upstreams: UpstreamsDep,
    symbols: SymbolsQuery = None,
    heartbeat_s: Annotated[float, Query(ge=0.1, le=60)] = 15.0,
) -> Response:
    """Live quotes as Server-Sent Events: a snapshot per symbol, then `event: quote`
    with the quote as JSON on every change; a comment line every `heartbeat_s`."""
    headers = outgoing_headers(principal.token) | {"accept": "text/event-stream"}
    client = upstreams.client
    upstream_request = client.build_request(
        "GET",
        upstreams.urls.securities.rstrip("/") + "/v1/market/stream",
        params=request.query_params,
        headers=headers,
        timeout=httpx.Timeout(STREAM_READ_TIMEOUT_S, connect=2.0),
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.TransportError:
        raise unavailable("securities") from None
    if upstream.status_code != 200:
        body = await upstream.aread()
        await upstream.aclose()
        return Response(body, status_code=upstream.status_code, media_type=upstream.headers.get("content-type"))

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError:
            return  # securities went away: end the stream, the phone reconnects
        finally:
            await upstream.aclose()

    return StreamingResponse(
        relay(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        background=BackgroundTask(upstream.aclose),
    )


@market.post(
    "/sandbox/{symbol}/price",
    response_model=QuotePublic,
    tags=["sandbox"],
    responses={403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
)
async def set_price(
    symbol: Symbol, _body: PriceSet, request: Request, principal: Operator, upstreams: UpstreamsDep
) -> Response:
    """Sandbox control (operators): trade a symbol at a price inside today's limits and
    pin it there, so a test can make a limit order fill or an alert fire on purpose.
    `pinned: false` hands the symbol back to the random walk."""
    return await upstreams.forward(SERVICE, request, f"/internal/market/{symbol}/price", token=principal.token)


# --- orders, positions, transfers -------------------------------------------------------------


@securities.post(
    "/orders", status_code=202, response_model=OrderPublic, responses={400: PROBLEM, 409: PROBLEM, 422: PROBLEM}
)
async def place_order(_body: OrderCreate, request: Request, principal: Customer) -> Response:
    """Place a market or limit order (Idempotency-Key required). Answers 202 with the
    order: a buy is `pending` until its cash is held, then `accepted`; `filling` once
    executed, `filled` once accounts has settled the cash."""
    return await forward_idempotently(
        request, principal.subject, SERVICE, "/v1/securities/orders", token=principal.token
    )


@securities.get("/orders", response_model=OrderPage)
async def list_orders(
    request: Request,
    principal: Customer,
    upstreams: UpstreamsDep,
    status: Annotated[str | None, Query(max_length=12)] = None,
    symbol: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The customer's orders, newest first (`status=open` for those not yet final)."""
    return await upstreams.forward(SERVICE, request, "/v1/securities/orders", token=principal.token)


@securities.get("/orders/{order_id}", response_model=OrderPublic)
async def get_order(order_id: ResourceId, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """One order. Another customer's order answers 404."""
    return await upstreams.forward(SERVICE, request, f"/v1/securities/orders/{order_id}", token=principal.token)


@securities.delete("/orders/{order_id}", status_code=202, response_model=OrderPublic, responses={409: PROBLEM})
async def cancel_order(
    order_id: ResourceId, request: Request, principal: Customer, upstreams: UpstreamsDep
) -> Response:
    """Cancel an open order: a sell at once (200), a buy once its hold is released
    (202 `cancelling`). A filled order answers 409."""
    return await upstreams.forward(SERVICE, request, f"/v1/securities/orders/{order_id}", token=principal.token)


@securities.get("/positions", response_model=PositionList)
async def list_positions(request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Holdings with quantity, T+1 sellable quantity, average cost, market value and P&L."""
    return await upstreams.forward(SERVICE, request, "/v1/securities/positions", token=principal.token)


@securities.post(
    "/transfers",
    status_code=202,
    response_model=BankTransferPublic,
    responses={400: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
async def create_transfer(_body: BankTransferCreate, request: Request, principal: Customer) -> Response:
    """Bank-securities transfer (Idempotency-Key required): `from: bank` moves cash from
    the checking account to the securities cash account, `from: securities` back."""
    return await forward_idempotently(
        request, principal.subject, SERVICE, "/v1/securities/transfers", token=principal.token
    )


@securities.get("/transfers", response_model=BankTransferPage)
async def list_transfers(
    request: Request,
    principal: Customer,
    upstreams: UpstreamsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return await upstreams.forward(SERVICE, request, "/v1/securities/transfers", token=principal.token)


@securities.get("/transfers/{transfer_id}", response_model=BankTransferPublic)
async def get_transfer(
    transfer_id: ResourceId, request: Request, principal: Customer, upstreams: UpstreamsDep
) -> Response:
    return await upstreams.forward(SERVICE, request, f"/v1/securities/transfers/{transfer_id}", token=principal.token)


router.include_router(market)
router.include_router(securities)
