"""A brokerage a Chinese investor recognises, through the gateway of a running stack:
market orders against a market sealed at its limit, refusals that say why a buy
reserves what it does, one cancel shape, what a filled order holds, and statement
prices at the instrument's tick. Prices are pinned with the operator's price control."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login
from tests.e2e.test_securities import Investor, assert_problem, set_price

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def next_day(gateway: httpx.AsyncClient, operator: dict[str, str]) -> None:
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400}, headers=operator)
    assert r.status_code == 200, r.text


async def test_a_market_buy_at_limit_up_is_cancelled_for_want_of_sellers(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    quote = await set_price(gateway, operator_headers, "000001", "10.52")
    sealed = await set_price(gateway, operator_headers, "000001", quote["limit_up"])
    assert sealed["ask"] is None

    placed = await investor.order({"symbol": "000001", "side": "buy", "type": "market", "quantity": 100})
    assert placed.status_code == 202, placed.text
    order = await investor.until(placed.json()["id"], "cancelled")
    assert order["reason"] == "no_opposite_side"
    assert f"sealed at limit-up {quote['limit_up']}" in order["detail"]
    assert (order["filled_price"], order["reserved_minor"]) == (None, 0)
    assert await investor.cash(investor.securities) == (20_000_00, 0)  # the hold is released
    assert await investor.positions() == []

    # A limit buy at limit-up rests while the market is sealed, and fills once sellers return.
    placed = await investor.order(
        {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 100, "price": quote["limit_up"]}
    )
    resting = await investor.until(placed.json()["id"], "accepted")
    assert (await investor.cash(investor.securities))[1] == resting["reserved_minor"] > 0
    await set_price(gateway, operator_headers, "000001", "10.60")
    filled = await investor.until(resting["id"], "filled")
    assert filled["reserved_minor"] == 0


async def test_a_market_sell_at_limit_down_is_cancelled_for_want_of_buyers(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    await set_price(gateway, operator_headers, "601398", "5.12")
    bought = await investor.order({"symbol": "601398", "side": "buy", "type": "market", "quantity": 1_000})
    await investor.until(bought.json()["id"], "filled")
    await next_day(gateway, operator_headers)
    quote = (await investor.phone.get("/v1/market/quotes/601398")).json()
    sealed = await set_price(gateway, operator_headers, "601398", quote["limit_down"])
    assert sealed["bid"] is None

    placed = await investor.order({"symbol": "601398", "side": "sell", "type": "market", "quantity": 1_000})
    assert placed.status_code == 202, placed.text
    order = await investor.until(placed.json()["id"], "cancelled")
    assert order["reason"] == "no_opposite_side"
    assert f"sealed at limit-down {quote['limit_down']}" in order["detail"]
    [position] = await investor.positions()
    assert (position["quantity"], position["sellable_quantity"], position["frozen_quantity"]) == (1_000, 1_000, 0)


async def test_a_buy_beyond_the_cash_says_what_it_reserves_and_why(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="4000.00", to_securities="4000.00")
    quote = await set_price(gateway, operator_headers, "600036", "33.45")
    r = await investor.order({"symbol": "600036", "side": "buy", "type": "market", "quantity": 1_000})
    assert_problem(r, 422, "insufficient-funds")
    detail = r.json()["detail"]
    assert detail.startswith("available balance 4000.00 CNY is less than the ")
    assert f"a market buy reserves at today's limit-up {quote['limit_up']} x 1000 shares + fees" in detail
    assert (await investor.phone.get("/v1/securities/orders")).json()["items"] == []
    assert await investor.cash(investor.securities) == (4_000_00, 0)


async def test_cancelling_a_buy_or_a_sell_answers_the_same_shape(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    await set_price(gateway, operator_headers, "000333", "64.20")
    bought = await investor.order({"symbol": "000333", "side": "buy", "type": "market", "quantity": 200})
    await investor.until(bought.json()["id"], "filled")
    await next_day(gateway, operator_headers)
    await set_price(gateway, operator_headers, "000333", "64.20")

    buy = await investor.order({"symbol": "000333", "side": "buy", "type": "limit", "quantity": 100, "price": "60.00"})
    sell = await investor.order(
        {"symbol": "000333", "side": "sell", "type": "limit", "quantity": 100, "price": "68.00"}
    )
    buy_id = (await investor.until(buy.json()["id"], "accepted"))["id"]
    sell_id = (await investor.until(sell.json()["id"], "accepted"))["id"]
    answers = []
    for order_id in (buy_id, sell_id):
        r = await investor.phone.client.delete(f"/v1/securities/orders/{order_id}", headers=investor.phone.auth)
        assert r.status_code == 202, r.text
        assert r.headers["location"] == f"/v1/securities/orders/{order_id}"
        answers.append(r.json())
    assert answers[0].keys() == answers[1].keys()
    assert answers[0]["status"] in ("cancelling", "cancelled") and answers[1]["status"] == "cancelled"
    assert (await investor.until(buy_id, "cancelled"))["reserved_minor"] == 0
    again = await investor.phone.client.delete(f"/v1/securities/orders/{sell_id}", headers=investor.phone.auth)
    assert (again.status_code, again.json()["status"]) == (202, "cancelled")


async def test_a_filled_order_holds_nothing_and_statements_price_at_the_tick(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="200000.00", to_securities="200000.00")
    prices = {}
    for symbol in ("600036", "510300"):
        prev_close = (await investor.phone.get(f"/v1/market/quotes/{symbol}")).json()["prev_close"]
        # A market buy of one lot takes the best ask (every level shows a lot at least).
        prices[symbol] = (await set_price(gateway, operator_headers, symbol, prev_close))["ask"]
    assert len(prices["600036"].split(".")[1]) == 2 and len(prices["510300"].split(".")[1]) == 3
    spent = 0
    for symbol, quantity in (("600036", 100), ("510300", 100)):
        placed = await investor.order({"symbol": symbol, "side": "buy", "type": "market", "quantity": quantity})
        order = await investor.until(placed.json()["id"], "filled")
        assert (order["reserved"], order["filled_price"]) == ("0.00", prices[symbol])
        assert order["amount_minor"] == order["gross_minor"] + order["commission_minor"]
        spent += order["amount_minor"]
    assert await investor.cash(investor.securities) == (200_000_00 - spent, 0)

    r = await investor.phone.get(f"/v1/accounts/{investor.securities}/transactions", params={"kind": "securities_buy"})
    assert r.status_code == 200, r.text
    lines = {line["description"] for line in r.json()["items"]}
    assert lines == {f"Buy 100 600036 @ {prices['600036']}", f"Buy 100 510300 @ {prices['510300']}"}


async def test_trade_confirmations_and_realised_pnl_outlive_the_position(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="100000.00", to_securities="100000.00")
    stranger = await register_and_login(gateway)
    prev_close = (await investor.phone.get("/v1/market/quotes/601318")).json()["prev_close"]
    tick = Decimal("0.01")
    # One lot fills whole at the best ask, a tick above the last price: prev_close.
    await set_price(gateway, operator_headers, "601318", f"{Decimal(prev_close) - tick:.2f}")
    placed = await investor.order({"symbol": "601318", "side": "buy", "type": "market", "quantity": 100})
    buy = await investor.until(placed.json()["id"], "filled")
    buy_day = buy["bank_day"]
    await next_day(gateway, operator_headers)
    quote = await set_price(gateway, operator_headers, "601318", prev_close)
    up = f"{Decimal(prev_close) + Decimal('1.00'):.2f}"
    assert Decimal(up) <= Decimal(quote["limit_up"])
    await set_price(gateway, operator_headers, "601318", f"{Decimal(up) + tick:.2f}")  # the best bid: up
    placed = await investor.order({"symbol": "601318", "side": "sell", "type": "market", "quantity": 100})
    sell = await investor.until(placed.json()["id"], "filled")
    assert await investor.positions() == []  # the whole position is sold

    r = await investor.phone.get("/v1/securities/trades")
    assert r.status_code == 200, r.text
    sold, bought = r.json()["items"]
    assert (sold["order_id"], bought["order_id"]) == (sell["id"], buy["id"])
    assert (bought["side"], bought["quantity"], bought["price"], bought["trade_day"]) == (
        "buy",
        100,
        prev_close,
        buy_day,
    )
    assert bought["net_minor"] == bought["gross_minor"] + bought["commission_minor"] == buy["amount_minor"]
    assert (bought["stamp_duty_minor"], bought["transfer_fee_minor"], bought["realised_pnl"]) == (0, 0, None)
    assert (sold["side"], sold["price"]) == ("sell", up)
    assert sold["net_minor"] == sold["gross_minor"] - sold["commission_minor"] - sold["stamp_duty_minor"]
    assert sold["stamp_duty_minor"] > 0
    assert sold["realised_pnl_minor"] == sold["net_minor"] - bought["net_minor"] == sell["realised_pnl_minor"]
    assert sold["traded_at"] <= sold["settled_at"]

    one = await investor.phone.get(sold["links"]["self"])
    assert (one.status_code, one.json()) == (200, sold)
    assert_problem(await stranger.get(sold["links"]["self"]), 404, "not-found")
    assert (await stranger.get("/v1/securities/trades")).json()["items"] == []

    sells = await investor.phone.get("/v1/securities/trades", params={"side": "sell", "symbol": "601318.SH"})
    assert [t["id"] for t in sells.json()["items"]] == [sold["id"]]
    on_buy_day = await investor.phone.get("/v1/securities/trades", params={"from": buy_day, "to": buy_day})
    assert [t["id"] for t in on_buy_day.json()["items"]] == [bought["id"]]
    paged = await investor.phone.get("/v1/securities/trades", params={"limit": 1})
    assert [t["id"] for t in paged.json()["items"]] == [sold["id"]]
    older = await investor.phone.get(
        "/v1/securities/trades", params={"limit": 1, "cursor": paged.json()["next_cursor"]}
    )
    assert [t["id"] for t in older.json()["items"]] == [bought["id"]]
    backwards = await investor.phone.get("/v1/securities/trades", params={"from": sold["trade_day"], "to": buy_day})
    assert_problem(backwards, 422, "validation-error")

    pnl = (await investor.phone.get("/v1/securities/pnl")).json()
    assert pnl["items"] == [
        {
            "symbol": "601318",
            "name": "Ping An Insurance",
            "sells": 1,
            "quantity_sold": 100,
            "realised_pnl": sold["realised_pnl"],
            "realised_pnl_minor": sold["realised_pnl_minor"],
        }
    ]
    assert pnl["total_minor"] == sold["realised_pnl_minor"]
    assert (await investor.phone.get("/v1/securities/pnl", params={"to": buy_day})).json()["total_minor"] == 0


async def test_sale_proceeds_buy_at_once_but_leave_for_the_bank_the_next_day(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="16000.00", to_securities="16000.00")
    prev_close = (await investor.phone.get("/v1/market/quotes/000858")).json()["prev_close"]
    # A tick under the previous close: the best ask is at it, and one lot fills whole there.
    under = f"{Decimal(prev_close) - Decimal('0.01'):.2f}"
    await set_price(gateway, operator_headers, "000858", under)
    placed = await investor.order(
        {"symbol": "000858", "side": "buy", "type": "limit", "quantity": 100, "price": prev_close}
    )
    bought = await investor.until(placed.json()["id"], "filled")
    await next_day(gateway, operator_headers)
    await set_price(gateway, operator_headers, "000858", prev_close)
    placed = await investor.order({"symbol": "000858", "side": "sell", "type": "market", "quantity": 100})
    sold = await investor.until(placed.json()["id"], "filled")
    proceeds = sold["amount_minor"]
    before = 16_000_00 - bought["amount_minor"]

    r = await investor.phone.get("/v1/securities/cash")
    assert r.status_code == 200, r.text
    cash = r.json()
    assert (cash["account_id"], cash["balance_minor"], cash["held_minor"]) == (
        investor.securities,
        before + proceeds,
        0,
    )
    assert (cash["tradable_minor"], cash["withdrawable_minor"]) == (before + proceeds, before)
    assert cash["proceeds_today_minor"] == proceeds

    too_much = f"{(before + 1) / 100:.2f}"
    r = await investor.phone.post(
        "/v1/securities/transfers",
        json={"from": "securities", "amount": too_much},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert_problem(r, 422, "not-withdrawable-yet")
    assert f"{too_much} CNY is more than the {cash['withdrawable']} CNY withdrawable now" in r.json()["detail"]
    assert (await investor.phone.get("/v1/securities/transfers")).json()["items"][0]["direction"] == (
        "bank_to_securities"
    )  # nothing was started

    # The proceeds buy shares at once (可用): a buy holding more than the withdrawable cash.
    limit_down = (await investor.phone.get("/v1/market/quotes/000858")).json()["limit_down"]
    placed = await investor.order(
        {"symbol": "000858", "side": "buy", "type": "limit", "quantity": 100, "price": limit_down}
    )
    resting = await investor.until(placed.json()["id"], "accepted")
    assert before < resting["reserved_minor"] <= before + proceeds
    r = await investor.phone.client.delete(f"/v1/securities/orders/{resting['id']}", headers=investor.phone.auth)
    assert r.status_code == 202, r.text
    await investor.until(resting["id"], "cancelled")
    out = await investor.transfer("securities", cash["withdrawable"])
    assert out["status"] == "completed"
    assert (await investor.phone.get("/v1/securities/cash")).json()["withdrawable_minor"] == 0

    # The next bank day they are withdrawable (可取).
    await next_day(gateway, operator_headers)
    cash = (await investor.phone.get("/v1/securities/cash")).json()
    assert (cash["withdrawable_minor"], cash["proceeds_today_minor"]) == (proceeds, 0)
    out = await investor.transfer("securities", cash["withdrawable"])
    assert out["status"] == "completed"
    assert await investor.cash(investor.securities) == (0, 0)


async def test_an_expired_day_order_and_a_completed_cancel_are_notified(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    quote = await set_price(
        gateway, operator_headers, "000001", (await investor.phone.get("/v1/market/quotes/000001")).json()["prev_close"]
    )
    body = {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 100, "price": quote["limit_down"]}
    lapsing = await investor.until((await investor.order(body)).json()["id"], "accepted")
    cancelling = await investor.until((await investor.order(body)).json()["id"], "accepted")

    r = await investor.phone.client.delete(f"/v1/securities/orders/{cancelling['id']}", headers=investor.phone.auth)
    assert r.status_code == 202, r.text
    await investor.until(cancelling["id"], "cancelled")
    await next_day(gateway, operator_headers)
    expired = await investor.until(lapsing["id"], "cancelled")
    assert expired["reason"] == "expired"
    assert await investor.cash(investor.securities) == (20_000_00, 0)

    async def told() -> dict[str, dict[str, Any]] | None:
        items = (await investor.phone.get("/v1/notifications")).json()["items"]
        by_order = {n["data"].get("order_id"): n for n in items if n["kind"] in ("order_expired", "order_cancelled")}
        return by_order if {lapsing["id"], cancelling["id"]} <= by_order.keys() else None

    notes = await eventually(told)
    assert notes is not None
    lapsed, cancelled = notes[lapsing["id"]], notes[cancelling["id"]]
    assert (lapsed["kind"], lapsed["title"], lapsed["data"]["reason"]) == ("order_expired", "Order expired", "expired")
    assert lapsed["data"]["released_minor"] == lapsing["reserved_minor"]
    assert "has lapsed" in lapsed["body"] and f"{lapsing['reserved']} CNY held for it" in lapsed["body"]
    assert (cancelled["kind"], cancelled["data"]["reason"]) == ("order_cancelled", "customer")


async def test_quotes_show_five_levels_and_the_market_keeps_ticks_and_daily_bars(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], customer: Phone
) -> None:
    prev_close = (await customer.get("/v1/market/quotes/600036")).json()["prev_close"]
    await set_price(gateway, operator_headers, "600036", prev_close)
    quote = (await customer.get("/v1/market/quotes/600036")).json()
    assert quote["bids"][0]["price"] == quote["bid"] and len(quote["bids"]) == 5
    assert quote["asks"][0]["price"] == quote["ask"] and len(quote["asks"]) == 5
    assert all(lv["quantity"] > 0 and lv["quantity"] % 100 == 0 for lv in quote["bids"] + quote["asks"])
    sealed = await set_price(gateway, operator_headers, "600036", quote["limit_up"])
    assert sealed["asks"] == [] and sealed["ask"] is None
    assert all(Decimal(lv["price"]) < Decimal(sealed["limit_up"]) for lv in sealed["bids"])

    high = f"{Decimal(prev_close) + Decimal('0.50'):.2f}"
    await set_price(gateway, operator_headers, "600036", high)
    await set_price(gateway, operator_headers, "600036", prev_close)
    r = await customer.get("/v1/market/600036/ticks")
    assert r.status_code == 200, r.text
    ticks = r.json()
    assert ticks["bank_day"] == quote["bank_day"]
    assert [t["price"] for t in ticks["items"]][-3:] == [sealed["limit_up"], high, prev_close]
    assert [t["at"] for t in ticks["items"]] == sorted(t["at"] for t in ticks["items"])
    assert_problem(await customer.get("/v1/market/999999/ticks"), 404, "unknown-symbol")

    today = (await customer.get("/v1/market/600036/bars", params={"period": "day"})).json()["items"][-1]
    assert (today["day"], today["complete"], today["high"], today["close"]) == (
        quote["bank_day"],
        False,
        sealed["limit_up"],
        prev_close,
    )
    await next_day(gateway, operator_headers)
    r = await customer.get("/v1/market/600036/bars")
    assert r.status_code == 200, r.text
    *_, yesterday, now = r.json()["items"]
    assert {k: yesterday[k] for k in ("day", "high", "close")} == {k: today[k] for k in ("day", "high", "close")}
    assert yesterday["complete"] is True and yesterday["volume"] >= today["volume"]
    assert (now["complete"], now["open"]) == (False, prev_close)
    bad = await customer.get("/v1/market/600036/bars", params={"period": "week"})
    assert bad.status_code == 422, bad.text


async def test_star_chinext_and_st_shares_need_the_buyer_enabled(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="100000.00", to_securities="100000.00")
    listing = (await investor.phone.get("/v1/securities/permissions")).json()["items"]
    assert [(p["board"], p["enabled"]) for p in listing] == [("star", False), ("chinext", False), ("st", False)]
    for symbol, board, named in (
        ("688981", "star", "the STAR Market"),
        ("300750", "chinext", "ChiNext"),
        ("600777", "st", "risk-warning (ST) shares"),
    ):
        prev_close = (await investor.phone.get(f"/v1/market/quotes/{symbol}")).json()["prev_close"]
        # A tick under: the best ask is the previous close, where the limit buy fills.
        await set_price(gateway, operator_headers, symbol, f"{Decimal(prev_close) - Decimal('0.01'):.2f}")
        body = {"symbol": symbol, "side": "buy", "type": "limit", "quantity": 100, "price": prev_close}
        r = await investor.order(body)
        assert_problem(r, 403, "not-enabled-for-board")
        assert named in r.json()["detail"] and f'"board": "{board}"' in r.json()["detail"]

        refused = await investor.phone.post("/v1/securities/permissions", json={"board": board})
        assert_problem(refused, 422, "risk-disclosure-required")
        enabled = await investor.phone.post(
            "/v1/securities/permissions", json={"board": board, "risk_disclosure_accepted": True}
        )
        assert enabled.status_code == 200, enabled.text
        assert next(p for p in enabled.json()["items"] if p["board"] == board)["enabled"] is True
        placed = await investor.order(body)
        assert placed.status_code == 202, placed.text
        await investor.until(placed.json()["id"], "filled")

    again = await investor.phone.post(
        "/v1/securities/permissions", json={"board": "st", "risk_disclosure_accepted": True}
    )
    assert again.status_code == 200 and all(p["enabled"] for p in again.json()["items"])
    bad = await investor.phone.post("/v1/securities/permissions", json={"board": "nasdaq"})
    assert bad.status_code == 422, bad.text
    assert {p["symbol"] for p in await investor.positions()} == {"688981", "300750", "600777"}
