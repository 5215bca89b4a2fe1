"""Market data routes: instruments, quotes, the live quote stream (SSE) and the
sandbox price control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.securities import domain, jobs, views
from services.securities.deps import ContextDep, RuntimeDep
from services.securities.domain.calendar import SESSIONS
from services.securities.handlers import Context
from shared.aio import within
from shared.auth import ROLE_OPERATOR, ROLE_SERVICE, CurrentPrincipal
from shared.listing import FromDay, ToDay
from shared.problems import PROBLEM, Problem
from shared.schemas.securities import (
    BarList,
    CalendarDay,
    InstrumentList,
    MarketCalendar,
    PriceSet,
    QuoteList,
    QuotePublic,
    SessionPublic,
    TickList,
)

HEARTBEAT_S = 15.0

router = APIRouter(responses={401: PROBLEM})


def _symbols(ctx: Context, symbols: str | None) -> list[str]:
    if not symbols:
        return list(ctx.sim.instruments)
    chosen = list(dict.fromkeys(domain.normalise_symbol(s) for s in symbols.split(",") if s.strip()))
    unknown = [s for s in chosen if s not in ctx.sim.instruments]
    if unknown:
        raise Problem(422, "unknown-symbol", f"no listing {', '.join(unknown)} in the sandbox market")
    if len(chosen) > 50:
        raise Problem(422, "too-many-symbols", "ask for at most 50 symbols at once")
    return chosen


@router.get("/v1/market/instruments", response_model=InstrumentList, tags=["market"], summary="The listings")
async def list_instruments(_principal: CurrentPrincipal, ctx: ContextDep) -> InstrumentList:
    return InstrumentList(items=[views.instrument_public(i) for i in ctx.sim.instruments.values()])


@router.get("/v1/market/quotes", response_model=QuoteList, tags=["market"], summary="Quotes for a list of symbols")
async def list_quotes(
    _principal: CurrentPrincipal,
    ctx: ContextDep,
    symbols: Annotated[str | None, Query(max_length=600, description="Comma-separated; all when omitted")] = None,
) -> QuoteList:
    ctx.sync_day()
    is_open = ctx.market_open()
    return QuoteList(items=[views.quote_public(q, is_open) for q in ctx.sim.quotes(_symbols(ctx, symbols))])


@router.get(
    "/v1/market/quotes/{symbol}",
    response_model=QuotePublic,
    tags=["market"],
    responses={404: PROBLEM},
    summary="A quote",
)
async def get_quote(symbol: str, _principal: CurrentPrincipal, ctx: ContextDep) -> QuotePublic:
    """Last price, change from the previous close, best bid and ask, the day's limits and volume."""
    ctx.sync_day()
    return views.quote_public(ctx.sim.quote(symbol), ctx.market_open())


@router.get(
    "/v1/market/{symbol}/ticks",
    response_model=TickList,
    tags=["market"],
    responses={404: PROBLEM},
    summary="Today's trades of a symbol",
)
async def list_ticks(
    symbol: str,
    _principal: CurrentPrincipal,
    ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=5_000, description="The newest this many")] = 500,
) -> TickList:
    """Every trade of the simulated market today (sandbox clock), oldest first: time,
    price and shares. Yesterday's are gone with the day; its bar remains (`/bars`)."""
    ctx.sync_day()
    instrument = ctx.sim.instrument(symbol)
    return views.ticks_public(ctx.sim.ticks(instrument.symbol)[-limit:], instrument, ctx.sim.day)


@router.get(
    "/v1/market/{symbol}/bars",
    response_model=BarList,
    tags=["market"],
    responses={404: PROBLEM},
    summary="Daily bars of a symbol",
)
async def list_bars(
    symbol: str,
    _principal: CurrentPrincipal,
    ctx: ContextDep,
    period: Annotated[Literal["day"], Query(description="Only daily bars")] = "day",
    limit: Annotated[int, Query(ge=1, le=750, description="The newest this many")] = 250,
) -> BarList:
    """Open, high, low, close, volume and turnover per bank day this market has traded,
    oldest first; today's bar is last, `complete: false`. Kept across sandbox days; the
    market (and its history) starts again from its seed on a restart or reset."""
    ctx.sync_day()
    instrument = ctx.sim.instrument(symbol)
    return views.bars_public(ctx.sim.bars(instrument.symbol)[-limit:], instrument)


CALENDAR_SPAN_DAYS = 366


@router.get(
    "/v1/market/calendar",
    response_model=MarketCalendar,
    tags=["market"],
    responses={422: PROBLEM},
    summary="Trading days and sessions",
)
async def market_calendar(
    _principal: CurrentPrincipal,
    ctx: ContextDep,
    from_: FromDay = None,
    to: ToDay = None,
) -> MarketCalendar:
    """Each day from `from` (default today, sandbox clock) to `to` (default 30 days on,
    at most 366 days in all): whether the exchanges trade, and why not (weekend, holiday);
    the sessions; whether orders are taken now in this hours mode, and when the next
    session opens."""
    first = from_ or ctx.today()
    last = to or (first + timedelta(days=30) if first < date.max - timedelta(days=30) else date.max)
    if last < first:
        raise Problem(422, "validation-error", f"to ({last}) is before from ({first})")
    if (last - first).days >= CALENDAR_SPAN_DAYS:
        raise Problem(422, "validation-error", f"ask for at most {CALENDAR_SPAN_DAYS} days at once")
    local = ctx.local_now()
    cal = ctx.calendar
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return MarketCalendar(
        hours_mode=ctx.settings.hours_mode.value,
        timezone="Asia/Shanghai",
        now=local,
        open_now=ctx.market_open(),
        next_open=cal.next_open(local),
        sessions=[SessionPublic(start=f"{a:%H:%M}", end=f"{b:%H:%M}") for a, b in SESSIONS],
        days=[
            CalendarDay(day=d.isoformat(), trading=cal.is_trading_day(d), closed=cal.closed_because(d)) for d in days
        ],
    )


@router.get(
    "/v1/market/stream",
    tags=["market"],
    summary="Live quotes (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`event: quote` messages"}},
)
async def stream_quotes(
    request: Request,
    _principal: CurrentPrincipal,
    ctx: ContextDep,
    symbols: Annotated[str | None, Query(max_length=600, description="Comma-separated; all when omitted")] = None,
    heartbeat_s: Annotated[float, Query(ge=0.1, le=60)] = HEARTBEAT_S,
) -> StreamingResponse:
    """A snapshot of each symbol's quote, then every change as `event: quote` with the
    quote as JSON `data` (`id` is `<symbol>:<seq>`); a comment line every
    `heartbeat_s` seconds keeps proxies from closing a quiet stream."""
    chosen = _symbols(ctx, symbols)
    ctx.sync_day()

    async def events() -> AsyncIterator[bytes]:
        with ctx.hub.subscribe(chosen) as sub:
            ctx.wanted.set()  # the ticker looks at every step while the stream is open
            is_open = ctx.market_open()
            for quote in ctx.sim.quotes(chosen):
                yield _sse(quote, is_open)
            while True:
                try:
                    quote = await within(sub.queue.get(), heartbeat_s)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                yield _sse(quote, ctx.market_open())

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache", "x-accel-buffering": "no"}
    )


def _sse(quote: domain.Quote, market_open: bool) -> bytes:
    data = orjson.dumps(views.quote_public(quote, market_open).model_dump(mode="json"))
    return b"event: quote\nid: " + f"{quote.symbol}:{quote.seq}".encode() + b"\ndata: " + data + b"\n\n"


@router.post(
    "/internal/market/{symbol}/price",
    response_model=QuotePublic,
    tags=["sandbox"],
    responses={403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
    summary="Sandbox control: set (and pin) a symbol's price",
)
async def set_price(
    symbol: str, body: PriceSet, principal: CurrentPrincipal, ctx: ContextDep, runtime: RuntimeDep
) -> QuotePublic:
    """Trade the symbol at `price` now (inside today's limit band, on the tick) and,
    with `pinned`, keep it there: the random walk skips a pinned symbol. Alerts fire
    and resting orders the price crosses fill at once. Operators and services only,
    sandbox mode only."""
    if not (principal.has(ROLE_OPERATOR) or principal.has(ROLE_SERVICE)):
        raise Problem(403, "forbidden", "only operators and services move the sandbox market")
    if not runtime.settings.sandbox:
        raise Problem(404, "not-found", "the market cannot be moved outside sandbox mode")
    instrument = ctx.sim.instrument(symbol)
    price = domain.parse_price(body.price, instrument)
    quote = await jobs.set_price(ctx, runtime, instrument.symbol, price, pinned=body.pinned)
    return views.quote_public(quote, ctx.market_open())
