"""What the securities market does on its own: the ticker (prices move, quotes stream
out, alerts fire, resting orders fill), run as a background task of the app's lifespan,
and the sandbox price control. The sagas' deadlines (steps re-sent, day orders expired)
are the shared saga sweeper's (main.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from services.securities import domain, handlers, store
from services.securities.domain.market import BARS_KEPT
from services.securities.handlers import Context
from shared.aio import within
from shared.runtime import Runtime, every

log = logging.getLogger(__name__)


async def tick(ctx: Context, runtime: Runtime) -> bool:
    """One look of the ticker: take the market's steps due (streaming their quotes),
    publish the alerts they raised, fill what crossed. Returns whether orders rest on the
    market."""
    if ctx.sync_day():
        log.info("market opened bank day %s", ctx.market.day)
    ctx.walk()
    await _publish(runtime, ctx.take_alerts())
    # Every open order, not only those of moved symbols: a market order accepted while
    # the market was closed fills at the first price after the open.
    if not await store.any_resting(runtime.db):
        return False
    if ctx.market_open():
        await _fill_crossed(ctx, runtime)
    return True


def ticker(ctx: Context, runtime: Runtime) -> Callable[[], Awaitable[None]]:
    """The market ticker as a background loop: a look every tick_interval_ms while someone
    wants each step as it comes (a quote stream is open, an order rests on the market),
    every idle_tick_s otherwise. Readers of the market take the steps due themselves
    (`Context.sim`), so a slower pace only delays the alerts of a market nobody watches."""
    interval_s = ctx.settings.tick_interval_ms / 1000

    async def market_ticker() -> None:
        resting = True  # until the first look says
        while True:
            watched = resting or ctx.hub.subscribers > 0
            pace = interval_s if watched else max(interval_s, ctx.settings.idle_tick_s)
            with contextlib.suppress(TimeoutError):
                await within(ctx.wanted.wait(), pace)
            # Cleared as the look begins, not after it: an order that comes to rest while
            # the look runs (committed after it found nothing resting) brings the next one.
            ctx.wanted.clear()
            try:
                resting = await tick(ctx, runtime)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market ticker failed; it looks again at its next pace")

    return market_ticker


async def set_price(ctx: Context, runtime: Runtime, symbol: str, price_milli: int, *, pinned: bool) -> domain.Quote:
    """Sandbox control: trade a symbol at a price inside today's band (and pin it
    there); streams, alerts and fills follow at once, as for a tick."""
    ctx.sync_day()
    quote = ctx.sim.set_price(symbol, price_milli, pinned=pinned, at=ctx.clock.now())
    ctx.hub.publish([quote])
    await publish_alerts(ctx, runtime, [quote.symbol])
    await match(ctx, runtime, [quote.symbol])
    return ctx.sim.quote(quote.symbol)


async def publish_alerts(ctx: Context, runtime: Runtime, symbols: list[str]) -> int:
    alerts = ctx.sim.alerts(symbols)
    await _publish(runtime, alerts)
    return len(alerts)


async def _publish(runtime: Runtime, alerts: list[domain.Alert]) -> None:
    if alerts:
        async with runtime.unit_of_work() as uow:
            for alert in alerts:
                uow.publish(handlers.price_alert(alert))


async def match(ctx: Context, runtime: Runtime, symbols: list[str] | None = None) -> int:
    """Match the resting orders the book on the other side has reached, in price-time
    priority (and cancel market orders facing a sealed market); each in its own unit of
    work, so an earlier order takes the liquidity a later one then does not see."""
    if not ctx.market_open() or not await store.any_resting(runtime.db):
        return 0
    return await _fill_crossed(ctx, runtime, symbols)


async def _fill_crossed(ctx: Context, runtime: Runtime, symbols: list[str] | None = None) -> int:
    async with runtime.db.read() as session:
        candidates = await store.open_orders(session, symbols)
    filled = 0
    for order in candidates:
        quote = ctx.sim.quote(order.symbol)
        side = domain.Side(order.side)
        book = quote.opposite(side is domain.Side.BUY)
        marketable = bool(book) and domain.at_or_better(side, book[0].price, order.limit_price_milli)
        if order.order_type == domain.OrderType.LIMIT and not marketable:
            continue
        async with runtime.unit_of_work() as uow:
            locked = await store.order_for_update(uow.session, order.id)
            if locked is not None and await handlers.try_fill(ctx, uow, locked, on_arrival=False):
                filled += 1
    return filled


async def save_history(ctx: Context, runtime: Runtime) -> int:
    """Write the market's new ticks and its changed bars (today's, and yesterday's once the
    day has rolled) to the database, and prune ticks past their retention. Returns the
    ticks written."""
    ctx.sync_day()
    ticks = ctx.sim.unsaved_ticks()
    day = ctx.sim.day
    if day is None:
        return 0
    since = ctx.history_saved_through or day
    bars = [(symbol, b) for symbol in ctx.sim.instruments for b in ctx.sim.bars(symbol) if b.day >= since]
    async with runtime.db.write() as session, session.begin():
        await store.save_market_history(session, bars, ticks)
        if ctx.history_saved_through != day:
            await store.prune_ticks(session, ctx.settings.tick_retention_days)
    ctx.history_saved_through = day
    return len(ticks)


async def restore_history(ctx: Context, runtime: Runtime) -> None:
    """At start: the market resumes from the history a previous process wrote (nothing
    after a reset, which empties the tables)."""
    ctx.sync_day()
    today = ctx.today()
    async with runtime.db.read() as session:
        bars, ticks = await store.load_market_history(session, today, BARS_KEPT)
    if bars:
        ctx.market.restore(today, bars, ticks)
        ctx.restart_walk()
        ctx.hub.publish(ctx.market.quotes())
        log.info("market history restored: %d bars, %d ticks of %s", len(bars), len(ticks), today)
    ctx.history_saved_through = today


def background(ctx: Context, runtime: Runtime) -> list[Callable[[], Awaitable[None]]]:
    """The market ticker, unless tick_interval_ms is 0; the history writer, unless
    history_flush_s is 0."""
    loops = []
    if ctx.settings.tick_interval_ms > 0:
        loops.append(ticker(ctx, runtime))
    if ctx.settings.history_flush_s > 0:
        loops.append(every(ctx.settings.history_flush_s, "market history", lambda: save_history(ctx, runtime)))
    return loops
