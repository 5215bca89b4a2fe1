"""Orders end to end inside the service: cash held, filled, settled and released
through accounts over the real broker; positions and T+1; every step an event."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import accounts as acc
from shared.events import securities as ev
from tests.integration.securities.harness import PROCEEDS, SETTLEMENT, Brokerage

pytestmark = pytest.mark.broker


async def test_buy_fills_then_sells_next_day_for_the_proceeds(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(200_000_00)
    await brokerage.set_price("600519", "1700.00")
    settlement_before = (await brokerage.bank.account(SETTLEMENT))["balance_minor"]
    proceeds_before = (await brokerage.bank.account(PROCEEDS))["balance_minor"]

    buy = await brokerage.buy(investor, "600519", 100, "1690.00")
    # 100 x 1690.00 + 0.025% commission (42.25) is held, nothing spent yet.
    assert buy["reserved_minor"] == 16_900_000 + 4_225
    assert await brokerage.cash(investor.securities_id) == (200_000_00, 16_904_225)

    await brokerage.set_price("600519", "1685.00")  # crosses the limit: the resting buy trades at it
    buy = await brokerage.until(investor, buy["id"], "filled")
    assert (buy["filled_price"], buy["gross"], buy["commission"], buy["stamp_duty"]) == (
        "1690.00",
        "169000.00",
        "42.25",
        "0.00",
    )
    assert buy["amount_minor"] == 16_904_225
    assert await brokerage.cash(investor.securities_id) == (200_000_00 - 16_904_225, 0)
    settlement = (await brokerage.bank.account(SETTLEMENT))["balance_minor"]
    assert settlement - settlement_before == 16_904_225

    [position] = (await brokerage.positions(investor))["items"]
    assert (position["symbol"], position["quantity"], position["sellable_quantity"]) == ("600519", 100, 0)
    assert position["bought_today_quantity"] == 100
    assert (position["average_cost"], position["cost"], position["last_price"]) == ("1690.423", "169042.25", "1685.00")
    assert (position["market_value"], position["unrealised_pnl"]) == ("168500.00", "-542.25")

    # T+1: not today.
    sell_body = {"symbol": "600519", "side": "sell", "type": "market", "quantity": 100}
    r = await brokerage.place(investor, sell_body)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/insufficient-sellable-shares")

    await brokerage.advance_days(1)
    [position] = (await brokerage.positions(investor))["items"]
    assert (position["sellable_quantity"], position["bought_today_quantity"]) == (100, 0)

    # A market sell takes the best bid, a tick under the last price: 1750.00.
    await brokerage.set_price("600519", "1750.01")
    r = await brokerage.place(investor, sell_body)
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("accepted", "filling")  # a market sell executes on arrival
    sell = await brokerage.until(investor, r.json()["id"], "filled")
    # 175,000.00 less commission 43.75 and stamp duty 87.50
    assert (sell["filled_price"], sell["commission"], sell["stamp_duty"], sell["amount"]) == (
        "1750.00",
        "43.75",
        "87.50",
        "174868.75",
    )
    assert sell["realised_pnl"] == "5826.50"
    assert await brokerage.cash(investor.securities_id) == (200_000_00 - 16_904_225 + 17_486_875, 0)
    proceeds = (await brokerage.bank.account(PROCEEDS))["balance_minor"]
    assert proceeds_before - proceeds == 17_486_875
    assert (await brokerage.positions(investor))["items"] == []

    statement = await brokerage.bank.statement(investor.securities_id)
    assert [(line["amount_minor"], line["counterparty_account_id"]) for line in statement[:2]] == [
        (17_486_875, PROCEEDS),
        (-16_904_225, SETTLEMENT),
    ]
    assert [
        (line["kind"], line["description"][:5], line["reference_kind"], line["reference_id"]) for line in statement[:2]
    ] == [
        ("securities_sell", "Sell ", "order", sell["id"]),
        ("securities_buy", "Buy 1", "order", buy["id"]),
    ]

    for order, side in ((buy, "buy"), (sell, "sell")):
        await brokerage.event(order["id"], ev.OrderFilled.TYPE)
        events = brokerage.events(order["id"])
        assert [e.type for e in events] == [
            ev.OrderPlaced.TYPE,
            ev.OrderAccepted.TYPE,
            ev.OrderMatched.TYPE,
            ev.OrderFilled.TYPE,
        ]
        assert all(e.data["side"] == side and e.data["customer_id"] == investor.id for e in events)
    filled = brokerage.events(buy["id"])[-1]
    assert (filled.data["position_quantity"], filled.data["amount_minor"]) == (100, 16_904_225)
    # The fill answers accounts' HoldCaptured: the causation chain is on the envelope.
    captured = next(s.envelope for s in brokerage.bank.tap.seen if s.envelope and s.envelope.id == filled.causation_id)
    assert captured.type == acc.HoldCaptured.TYPE
    assert brokerage.events(sell["id"])[-1].data["realised_pnl_minor"] == 582_650


async def test_cancelling_a_buy_releases_its_hold(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(50_000_00)
    await brokerage.set_price("000001", "10.52")
    buy = await brokerage.buy(investor, "000001", 1_000, "10.00")
    assert await brokerage.cash(investor.securities_id) == (50_000_00, 10_000_00 + 500)  # 5.00 minimum commission

    r = await brokerage.cancel(investor, buy["id"])
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "cancelling"
    cancelled = await brokerage.until(investor, buy["id"], "cancelled")
    assert cancelled["reason"] == "customer"
    assert await brokerage.cash(investor.securities_id) == (50_000_00, 0)
    event = await brokerage.event(buy["id"], ev.OrderCancelled.TYPE)
    assert event.data["released_minor"] == 10_000_00 + 500

    again = await brokerage.cancel(investor, buy["id"])
    assert (again.status_code, again.json()["status"]) == (202, "cancelled")
    # A later price through the old limit fills nothing.
    await brokerage.set_price("000001", "9.90")
    assert (await brokerage.order(investor, buy["id"]))["status"] == "cancelled"


async def test_cancelling_a_sell_unfreezes_the_shares_at_once(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(100_000_00)
    await brokerage.set_price("601398", "5.12")
    await brokerage.buy(investor, "601398", 2_000, wait="filled")
    await brokerage.advance_days(1)
    await brokerage.set_price("601398", "5.12")
    r = await brokerage.place(
        investor, {"symbol": "601398", "side": "sell", "type": "limit", "quantity": 1_500, "price": "5.50"}
    )
    assert r.status_code == 202, r.text
    [position] = (await brokerage.positions(investor))["items"]
    assert (position["sellable_quantity"], position["frozen_quantity"]) == (500, 1_500)

    r = await brokerage.cancel(investor, r.json()["id"])
    assert (r.status_code, r.json()["status"]) == (202, "cancelled")
    [position] = (await brokerage.positions(investor))["items"]
    assert (position["sellable_quantity"], position["frozen_quantity"]) == (2_000, 0)


async def test_a_board_is_enabled_only_on_json_true_for_its_risk_disclosure(brokerage: Brokerage) -> None:
    """Consent to a board's risk disclosure is JSON's true: `"yes"`, `1` or `"on"` enable nothing."""
    investor = await brokerage.investor(1_000_00)
    for said in ("yes", 1, "on", "true"):
        r = await brokerage.http.post(
            "/v1/securities/permissions",
            json={"board": "star", "risk_disclosure_accepted": said},
            headers=investor.headers,
        )
        assert r.status_code == 422 and r.json()["type"].endswith("/validation-error"), (said, r.text)
    boards = (await brokerage.http.get("/v1/securities/permissions", headers=investor.headers)).json()
    assert not any(b["enabled"] for b in boards["items"] if b["board"] == "star"), boards


async def test_a_market_buy_holds_at_limit_up_and_pays_the_exact_cost(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(50_000_00)
    enabled = await brokerage.http.post(
        "/v1/securities/permissions",
        json={"board": "chinext", "risk_disclosure_accepted": True},
        headers=investor.headers,
    )
    assert enabled.status_code == 200, enabled.text
    quote = await brokerage.set_price("300750", "188.49")  # the best ask a tick above: 188.50
    assert quote["limit_up"] == "226.20"  # ChiNext: +20%
    buy = await brokerage.buy(investor, "300750", 100, wait="filled")
    # It reserved 100 x 226.20 + 5.655 commission (half up); filled, it holds nothing.
    placed = await brokerage.event(buy["id"], ev.OrderPlaced.TYPE)
    assert placed.data["reserved_minor"] == 22_620_00 + 566
    assert (buy["reserved_minor"], buy["filled_price"], buy["amount_minor"]) == (0, "188.50", 18_850_00 + 500)
    assert await brokerage.cash(investor.securities_id) == (50_000_00 - 18_850_00 - 500, 0)
    captured = await brokerage.bank.tap.wait_for(
        lambda s: (
            s.envelope is not None
            and s.envelope.type == acc.HoldCaptured.TYPE
            and s.envelope.data["hold_id"] == f"securities-order-{buy['id']}"
        ),
        what="HoldCaptured",
    )
    assert captured.envelope is not None
    assert captured.envelope.data["released_minor"] == (22_620_00 + 566) - (18_850_00 + 500)


async def test_a_buy_beyond_the_available_cash_is_refused_saying_what_it_reserves(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(1_000_00)
    quote = await brokerage.set_price("600519", "1700.00")
    r = await brokerage.place(
        investor, {"symbol": "600519", "side": "buy", "type": "limit", "quantity": 100, "price": "1700.00"}
    )
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (422, "insufficient-funds"), r.text
    assert r.json()["detail"] == (
        "available balance 1000.00 CNY is less than the 170042.50 CNY this order reserves: "
        "a limit buy reserves at its limit price 1700.00 x 100 shares + fees 42.50 = 170042.50 CNY"
    )
    r = await brokerage.place(investor, {"symbol": "600519", "side": "buy", "type": "market", "quantity": 100})
    assert r.status_code == 422, r.text
    assert f"a market buy reserves at today's limit-up {quote['limit_up']} x 100 shares + fees" in r.json()["detail"]
    assert (await brokerage.http.get("/v1/securities/orders", headers=investor.headers)).json()["items"] == []
    assert await brokerage.cash(investor.securities_id) == (1_000_00, 0)


async def test_a_repeated_idempotency_key_returns_the_same_order(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(10_000_00)
    await brokerage.set_price("510300", "3.862")
    body = {"symbol": "510300", "side": "buy", "type": "limit", "quantity": 1_000, "price": "3.800"}
    key = str(uuid.uuid4())
    first = await brokerage.place(investor, body, key=key)
    again = await brokerage.place(investor, body, key=key)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    order = await brokerage.until(investor, first.json()["id"], "accepted")
    assert len(await brokerage.orders(investor)) == 1
    assert await brokerage.cash(investor.securities_id) == (10_000_00, 3_800_00 + 500)
    await brokerage.cancel(investor, order["id"])
    await brokerage.until(investor, order["id"], "cancelled")


async def test_a_filled_order_cannot_be_cancelled_and_others_orders_are_not_found(brokerage: Brokerage) -> None:
    investor, stranger = await brokerage.investor(10_000_00), await brokerage.investor(10_000_00)
    await brokerage.set_price("510500", "5.734")
    buy = await brokerage.buy(investor, "510500", 100, wait="filled")

    r = await brokerage.cancel(investor, buy["id"])
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/order-not-cancellable")

    for response in (
        await brokerage.http.get(f"/v1/securities/orders/{buy['id']}", headers=stranger.headers),
        await brokerage.cancel(stranger, buy["id"]),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert await brokerage.orders(stranger) == []
    assert (await brokerage.order(investor, buy["id"]))["status"] == "filled"


async def test_an_unfilled_day_order_expires_next_day_and_releases_its_hold(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(10_000_00)
    await brokerage.set_price("600036", "33.45")
    buy = await brokerage.buy(investor, "600036", 100, "30.11")  # limit-down: nowhere near
    assert (await brokerage.cash(investor.securities_id))[1] > 0
    await brokerage.advance_days(1)
    expired = await brokerage.until(investor, buy["id"], "cancelled")
    assert expired["reason"] == "expired"
    assert await brokerage.cash(investor.securities_id) == (10_000_00, 0)


async def test_orders_list_newest_first_in_pages(brokerage: Brokerage) -> None:
    investor = await brokerage.investor(50_000_00)
    await brokerage.set_price("000858", "142.30")
    ids = []
    for price in ("130.00", "131.00", "132.00"):
        ids.append((await brokerage.buy(investor, "000858", 100, price))["id"])
    first = await brokerage.http.get("/v1/securities/orders", params={"limit": 2}, headers=investor.headers)
    page = first.json()
    assert [o["id"] for o in page["items"]] == ids[:0:-1]
    rest = await brokerage.http.get(
        "/v1/securities/orders", params={"limit": 2, "cursor": page["next_cursor"]}, headers=investor.headers
    )
    assert [o["id"] for o in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None
    assert len(await brokerage.orders(investor, status="open")) == 3
    for order_id in ids:
        await brokerage.cancel(investor, order_id)
        await brokerage.until(investor, order_id, "cancelled")


async def test_buys_racing_for_the_same_cash_each_refusal_says_what_it_reserves(brokerage: Brokerage) -> None:
    # Each buy alone fits the cash; both do not. Whichever loses is refused saying why it
    # reserves what it does: at once (422) when it saw the other's hold, or by accounts.
    investor = await brokerage.investor(12_000_00)
    await brokerage.set_price("000001", "10.52")
    body = {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 1_000, "price": "10.00"}
    answers = await asyncio.gather(*(brokerage.place(investor, body) for _ in range(2)))
    basis = "a limit buy reserves at its limit price 10.00 x 1000 shares + fees 5.00 = 10005.00 CNY"
    details = [r.json()["detail"] for r in answers if r.status_code == 422]
    accepted = []
    for r in answers:
        if r.status_code == 202:
            order = await brokerage.until(investor, r.json()["id"], "accepted", "rejected")
            if order["status"] == "rejected":
                assert order["reason"] == "insufficient_funds"
                details.append(order["detail"])
            else:
                accepted.append(order["id"])
    assert len(details) == len(accepted) == 1, [r.text for r in answers]
    assert details[0].endswith(basis), details
    assert await brokerage.cash(investor.securities_id) == (12_000_00, 10_005_00)
    await brokerage.cancel(investor, accepted[0])
    await brokerage.until(investor, accepted[0], "cancelled")


async def test_a_list_filtered_by_a_symbol_the_market_does_not_list_is_refused(brokerage: Brokerage) -> None:
    """A value the API does not know is a 422, never an empty list: orders, trades, P&L."""
    investor = await brokerage.investor(1_000_00)
    for path in ("/v1/securities/orders", "/v1/securities/trades", "/v1/securities/pnl"):
        r = await brokerage.http.get(path, params={"symbol": "999999"}, headers=investor.headers)
        assert r.status_code == 422 and r.json()["type"].endswith("/unknown-symbol"), (path, r.text)
        listed = await brokerage.http.get(path, params={"symbol": "600036"}, headers=investor.headers)
        assert listed.status_code == 200, (path, listed.text)
