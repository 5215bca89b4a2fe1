"""Orders the rules refuse: a clear problem+json, and nothing changed (no order, no
hold, no frozen shares, no event)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import securities as ev
from tests.integration.securities.harness import Brokerage, Investor

pytestmark = pytest.mark.broker


def order(side: str, type_: str, quantity: int, price: str | None = None, symbol: str = "601398") -> dict[str, Any]:
    body: dict[str, Any] = {"symbol": symbol, "side": side, "type": type_, "quantity": quantity}
    return body | ({"price": price} if price is not None else {})


# ICBC (601398) trades at 5.12 here: its limits are 4.61 and 5.63.
BAD_ORDERS = [
    ("unknown symbol", order("buy", "limit", 100, "10.00", symbol="999999"), 422, "unknown-symbol"),
    ("listed on the other exchange", order("buy", "limit", 100, "5.12", symbol="601398.SZ"), 422, "unknown-symbol"),
    ("odd lot on a buy", order("buy", "market", 150), 422, "odd-lot"),
    ("price above limit-up", order("buy", "limit", 100, "5.64"), 422, "price-outside-limits"),
    ("price below limit-down", order("buy", "limit", 100, "4.60"), 422, "price-outside-limits"),
    ("price off the tick", order("buy", "limit", 100, "5.125"), 422, "off-tick-price"),
    ("fund price off its tick", order("buy", "limit", 100, "3.8625", symbol="510300"), 422, "off-tick-price"),
    ("selling more than sellable", order("sell", "market", 100), 422, "insufficient-sellable-shares"),
    ("selling shares bought today", order("sell", "market", 200), 422, "insufficient-sellable-shares"),
    ("limit order without a price", order("buy", "limit", 100), 422, "invalid-price"),
    ("market order with a price", order("buy", "market", 100, "5.12"), 422, "invalid-price"),
    ("zero quantity", order("buy", "market", 0), 422, "validation-error"),
    ("quantity that is true", order("buy", "market", 100) | {"quantity": True}, 422, "validation-error"),
    ("quantity as text", order("buy", "market", 100) | {"quantity": "100"}, 422, "validation-error"),
    ("quantity as a decimal", order("buy", "market", 100) | {"quantity": 100.0}, 422, "validation-error"),
    ("unknown side", order("short", "market", 100), 422, "validation-error"),
    ("price that is no number", order("buy", "limit", 100, "five"), 422, "validation-error"),
]


async def _everything(brokerage: Brokerage, investor: Investor) -> tuple[Any, ...]:
    return (
        await brokerage.orders(investor),
        await brokerage.cash(investor.securities_id),
        await brokerage.positions(investor),
    )


@pytest.mark.parametrize(("case", "body", "status", "problem"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
async def test_a_bad_order_is_refused_and_changes_nothing(
    brokerage: Brokerage, case: str, body: dict[str, Any], status: int, problem: str
) -> None:
    investor = await brokerage.investor(100_000_00)
    await brokerage.set_price("601398", "5.12")
    if case == "selling shares bought today":
        await brokerage.buy(investor, "601398", 200, wait="filled")
    before = await _everything(brokerage, investor)

    r = await brokerage.place(investor, body)

    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"https://sandbank.dev/problems/{problem}"
    assert r.json()["detail"]
    assert await _everything(brokerage, investor) == before
    # A good order afterwards is the only one that says anything on securities.events.
    good = await brokerage.buy(investor, "601398", 100, "4.61")
    await brokerage.event(good["id"], ev.OrderAccepted.TYPE)
    mine = {
        s.envelope.subject
        for s in brokerage.tap.seen
        if s.envelope is not None and s.envelope.data.get("customer_id") == investor.id
    }
    assert mine == {good["id"]} | {o["id"] for o in before[0]}
    await brokerage.cancel(investor, good["id"])
    await brokerage.until(investor, good["id"], "cancelled")


async def test_an_order_without_a_securities_account_is_refused(brokerage: Brokerage) -> None:
    customer = await brokerage.bank.new_customer()
    r = await brokerage.http.post(
        "/v1/securities/orders",
        json={"symbol": "601398", "side": "buy", "type": "market", "quantity": 100},
        headers=customer.headers,
    )
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/no-securities-account")


async def test_orders_need_a_customer_token(brokerage: Brokerage) -> None:
    body = {"symbol": "601398", "side": "buy", "type": "market", "quantity": 100}
    assert (await brokerage.http.post("/v1/securities/orders", json=body)).status_code == 401
    operator = await brokerage.http.post("/v1/securities/orders", json=body, headers=brokerage.bank.operator_headers)
    assert operator.status_code == 403
