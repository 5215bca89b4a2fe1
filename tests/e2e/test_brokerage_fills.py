"""Orders matched against the simulated five-level book through the gateway: a buy
larger than the best ask walks several prices, a limit order's remainder rests and fills
later when the book moves through its price, another remainder is cancelled releasing
exactly what it held; each fill a trade confirmation, the ledger balanced after each.
Prices are pinned with the operator's price control, so the book stays put."""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.phone import eventually
from tests.e2e.test_securities import Investor, set_price
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


def minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


def milli(price: str) -> int:
    return int(Decimal(price) * 1000)


def commission(gross_minor: int) -> int:
    """0.025%, half up to the fen, 5.00 minimum: the sandbox's default schedule."""
    return max(500, int((Decimal(gross_minor) * Decimal("0.00025")).to_integral_value(ROUND_HALF_UP)))


async def trades_of(investor: Investor, order_id: str) -> list[dict[str, Any]]:
    r = await investor.phone.get("/v1/securities/trades", params={"limit": 50})
    assert r.status_code == 200, r.text
    # Newest first: reversed, the fills in the order the book was walked.
    return [t for t in reversed(r.json()["items"]) if t["order_id"] == order_id]


async def notified(investor: Investor, kind: str, order_id: str) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]] | None:
        r = await investor.phone.get("/v1/notifications")
        items = [n for n in r.json()["items"] if n["kind"] == kind and n["data"].get("order_id") == order_id]
        return items or None

    return await eventually(found)  # type: ignore[no-any-return]


async def ended(investor: Investor, order_id: str) -> dict[str, Any]:
    async def final() -> dict[str, Any] | None:
        body: dict[str, Any] = (await investor.phone.get(f"/v1/securities/orders/{order_id}")).json()
        return body if body["status"] in ("filled", "cancelled", "rejected") else None

    return await eventually(final)  # type: ignore[no-any-return]


async def holding(investor: Investor, held_minor: int) -> tuple[int, int]:
    """The securities cash account once a part-filled buy's remainder is held again."""

    async def held() -> tuple[int, int] | None:
        cash = await investor.cash(investor.securities)
        return cash if cash[1] == held_minor else None

    return await eventually(held)  # type: ignore[no-any-return]


async def test_a_market_buy_larger_than_the_best_ask_walks_the_book_at_several_prices(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="900000.00", to_securities="900000.00")
    prev_close = (await investor.phone.get("/v1/market/quotes/601398")).json()["prev_close"]
    quote = await set_price(gateway, operator_headers, "601398", prev_close)
    ask1, ask2, ask3 = quote["asks"][:3]
    quantity = ask1["quantity"] + ask2["quantity"] + 100

    placed = await investor.order({"symbol": "601398", "side": "buy", "type": "market", "quantity": quantity})
    assert placed.status_code == 202, placed.text
    order = await investor.until(placed.json()["id"], "filled")
    assert (order["filled_quantity"], order["remaining_quantity"], order["reserved_minor"]) == (quantity, 0, 0)

    trades = await trades_of(investor, order["id"])
    assert [(t["price"], t["quantity"]) for t in trades] == [
        (ask1["price"], ask1["quantity"]),
        (ask2["price"], ask2["quantity"]),
        (ask3["price"], 100),
    ]
    gross = [minor(t["gross"]) for t in trades]
    assert gross == [milli(t["price"]) * t["quantity"] // 10 for t in trades]
    # Commission on the order's running gross: the minimum once, not per fill.
    assert sum(t["commission_minor"] for t in trades) == commission(sum(gross)) == order["commission_minor"]
    assert sum(t["net_minor"] for t in trades) == order["amount_minor"] == sum(gross) + order["commission_minor"]
    average = Decimal(sum(milli(t["price"]) * t["quantity"] for t in trades)) / quantity / 1000
    assert Decimal(order["filled_price"]) == average.quantize(Decimal("0.001"), ROUND_HALF_UP)

    assert await investor.cash(investor.securities) == (900_000_00 - order["amount_minor"], 0)
    [position] = await investor.positions()
    assert (position["quantity"], position["cost_minor"]) == (quantity, order["amount_minor"])
    # The levels the buy took are gone from the book until the price moves.
    after = (await investor.phone.get("/v1/market/quotes/601398")).json()
    assert after["asks"][0] == {"price": ask3["price"], "quantity": ask3["quantity"] - 100}
    assert after["last"] == quote["last"]


async def test_a_limit_buys_remainder_rests_and_fills_later_and_another_is_cancelled_releasing_its_hold(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="900000.00", to_securities="900000.00")
    prev_close = (await investor.phone.get("/v1/market/quotes/000001")).json()["prev_close"]
    quote = await set_price(gateway, operator_headers, "000001", prev_close)
    ask1 = quote["asks"][0]
    limit = ask1["price"]

    # Marketable for the first level only: that fills, 200 shares rest at the limit.
    placed = await investor.order(
        {"symbol": "000001", "side": "buy", "type": "limit", "quantity": ask1["quantity"] + 200, "price": limit}
    )
    assert placed.status_code == 202, placed.text
    part = await investor.until(placed.json()["id"], "partially_filled")
    assert (part["filled_quantity"], part["remaining_quantity"]) == (ask1["quantity"], 200)
    first_gross = milli(limit) * ask1["quantity"] // 10
    assert (part["gross_minor"], part["commission_minor"]) == (first_gross, commission(first_gross))
    # The remainder holds its own cash: 200 at the limit and the commission it can add.
    rest_gross = milli(limit) * 200 // 10
    held = rest_gross + commission(first_gross + rest_gross) - commission(first_gross)
    assert part["reserved_minor"] == held
    assert await holding(investor, held) == (900_000_00 - part["amount_minor"], held)
    [partly] = await notified(investor, "order_partially_filled", part["id"])
    assert (partly["data"]["filled_quantity"], partly["data"]["remaining_quantity"]) == (ask1["quantity"], 200)

    # The book moves down through the limit: the resting 200 trade at the limit.
    below = f"{Decimal(limit) - Decimal('0.02'):.2f}"
    await set_price(gateway, operator_headers, "000001", below)
    filled = await investor.until(part["id"], "filled")
    trades = await trades_of(investor, filled["id"])
    assert [(t["price"], t["quantity"]) for t in trades] == [(limit, ask1["quantity"]), (limit, 200)]
    assert trades[1]["net_minor"] == held  # it filled at its limit: exactly what it held
    assert sum(t["net_minor"] for t in trades) == filled["amount_minor"]
    spent = filled["amount_minor"]
    assert await investor.cash(investor.securities) == (900_000_00 - spent, 0)
    await notified(investor, "order_filled", filled["id"])

    # Another: part fills, then the customer cancels the rest, which frees its hold exactly.
    quote = (await investor.phone.get("/v1/market/quotes/000001")).json()
    ask1 = quote["asks"][0]
    placed = await investor.order(
        {"symbol": "000001", "side": "buy", "type": "limit", "quantity": ask1["quantity"] + 300, "price": ask1["price"]}
    )
    part = await investor.until(placed.json()["id"], "partially_filled")
    balance, held = await holding(investor, part["reserved_minor"])
    assert balance == 900_000_00 - spent - part["amount_minor"]
    r = await investor.phone.client.delete(f"/v1/securities/orders/{part['id']}", headers=investor.phone.auth)
    assert r.status_code == 202, r.text
    cancelled = await investor.until(part["id"], "cancelled")
    assert (cancelled["reason"], cancelled["filled_quantity"], cancelled["reserved_minor"]) == (
        "customer",
        ask1["quantity"],
        0,
    )
    assert await investor.cash(investor.securities) == (balance, 0)  # the hold released, nothing spent
    [note] = await notified(investor, "order_cancelled", part["id"])
    assert note["data"]["released_minor"] == held
    positions = {p["symbol"]: p for p in await investor.positions()}
    assert positions["000001"]["quantity"] == filled["filled_quantity"] + cancelled["filled_quantity"]


async def test_daily_bars_and_todays_ticks_survive_a_securities_restart(
    stack: Stack, gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="1000.00", to_securities="")
    prev_close = (await investor.phone.get("/v1/market/quotes/600036")).json()["prev_close"]
    await set_price(gateway, operator_headers, "600036", f"{Decimal(prev_close) + Decimal('0.05'):.2f}")
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400}, headers=operator_headers)
    assert r.status_code == 200, r.text
    today = await set_price(gateway, operator_headers, "600036", prev_close)
    bars = (await investor.phone.get("/v1/market/600036/bars", params={"period": "day"})).json()["items"]
    ticks = (await investor.phone.get("/v1/market/600036/ticks")).json()["items"]
    assert bars[-2]["complete"] and not bars[-1]["complete"] and ticks
    # No wait for the history writer's interval (10 s): a process told to stop writes the
    # history it has not yet written, so a restart resumes from the last tick.
    await asyncio.to_thread(stack.restart, "securities")

    async def restored() -> list[dict[str, Any]] | None:
        r = await investor.phone.get("/v1/market/600036/bars", params={"period": "day"})
        return r.json()["items"] if r.status_code == 200 else None

    again = await eventually(restored)
    assert again[:-1] == bars[:-1]  # every completed day
    assert (again[-1]["day"], again[-1]["open"], again[-1]["complete"]) == (bars[-1]["day"], bars[-1]["open"], False)
    # The day resumes where it was (the walk, unpinned by the restart, goes on from there).
    after = (await investor.phone.get("/v1/market/quotes/600036")).json()
    assert (after["prev_close"], after["limit_up"], after["open"]) == (
        today["prev_close"],
        today["limit_up"],
        today["open"],
    )
    kept = (await investor.phone.get("/v1/market/600036/ticks")).json()["items"]
    assert kept[: len(ticks)] == ticks


async def test_the_trading_calendar_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    investor = await Investor.open(gateway, deposit="100.00", to_securities="")
    r = await investor.phone.get("/v1/market/calendar", params={"from": "2026-09-30", "to": "2026-10-09"})
    assert r.status_code == 200, r.text
    calendar = r.json()
    closed = {d["day"]: d["closed"] for d in calendar["days"] if not d["trading"]}
    assert closed == {
        "2026-10-01": "holiday",
        "2026-10-02": "holiday",
        "2026-10-03": "weekend",
        "2026-10-04": "weekend",
        "2026-10-05": "holiday",
        "2026-10-06": "holiday",
        "2026-10-07": "holiday",
    }
    # The stack runs in the sandbox's always-open mode: orders are taken at any hour.
    assert (calendar["hours_mode"], calendar["open_now"], calendar["timezone"]) == (
        "always_open",
        True,
        "Asia/Shanghai",
    )
    default = (await investor.phone.get("/v1/market/calendar")).json()["days"]
    assert len(default) == 31
    too_long = await investor.phone.get("/v1/market/calendar", params={"from": "2026-01-01", "to": "2027-12-31"})
    assert too_long.status_code == 422 and too_long.headers["content-type"].startswith("application/problem+json")


async def test_a_limit_sell_fills_in_parts_each_credited_and_the_position_follows(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="400000.00", to_securities="400000.00")
    prev_close = (await investor.phone.get("/v1/market/quotes/601398")).json()["prev_close"]
    held = spent = 0
    while held < 30_100:  # more than any one level of the book can show (300 lots)
        await set_price(gateway, operator_headers, "601398", prev_close)  # a fresh book each time
        placed = await investor.order({"symbol": "601398", "side": "buy", "type": "market", "quantity": 10_000})
        bought = await ended(investor, placed.json()["id"])  # filled, or its unmatched rest cancelled
        held, spent = held + bought["filled_quantity"], spent + (bought["amount_minor"] or 0)
    assert [p["quantity"] for p in await investor.positions()] == [held]
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400}, headers=operator_headers)
    assert r.status_code == 200, r.text

    quote = await set_price(gateway, operator_headers, "601398", prev_close)
    bid1 = quote["bids"][0]
    quantity = bid1["quantity"] + 100
    placed = await investor.order(
        {"symbol": "601398", "side": "sell", "type": "limit", "quantity": quantity, "price": bid1["price"]}
    )
    assert placed.status_code == 202, placed.text
    part = await investor.until(placed.json()["id"], "partially_filled")
    assert (part["filled_quantity"], part["remaining_quantity"]) == (bid1["quantity"], 100)
    [position] = await investor.positions()
    assert (position["quantity"], position["frozen_quantity"]) == (held - bid1["quantity"], 100)

    # The book moves up through the limit: the resting 100 sell at the limit.
    await set_price(gateway, operator_headers, "601398", f"{Decimal(bid1['price']) + Decimal('0.02'):.2f}")
    sold = await investor.until(part["id"], "filled")
    trades = await trades_of(investor, sold["id"])
    assert [(t["price"], t["quantity"]) for t in trades] == [(bid1["price"], bid1["quantity"]), (bid1["price"], 100)]
    assert sum(t["net_minor"] for t in trades) == sold["amount_minor"]
    assert sum(t["realised_pnl_minor"] for t in trades) == sold["realised_pnl_minor"]
    assert all(t["stamp_duty_minor"] > 0 for t in trades)  # stamp duty on each sell fill
    [position] = await investor.positions()
    assert (position["quantity"], position["frozen_quantity"]) == (held - quantity, 0)
    assert await investor.cash(investor.securities) == (400_000_00 - spent + sold["amount_minor"], 0)
