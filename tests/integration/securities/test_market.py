"""Quotes, the sandbox price control and price alerts on securities.events."""

from __future__ import annotations

import pytest

from shared.events import securities as ev
from shared.events.topics import SECURITIES_EVENTS
from tests.integration.securities.harness import Brokerage

pytestmark = pytest.mark.broker


async def test_quotes_carry_price_change_spread_limits_and_volume(brokerage: Brokerage) -> None:
    await brokerage.set_price("688981", "48.60")
    quote = await brokerage.set_price("688981", "50.00")
    r = await brokerage.http.get(
        "/v1/market/quotes", params={"symbols": "688981,510300.SH"}, headers=brokerage.bank.service_headers
    )
    assert r.status_code == 200, r.text
    star, etf = r.json()["items"]
    assert star == quote | {"market_open": True}
    assert (star["board"], star["limit_pct"], star["exchange"]) == ("star", 20, "SH")
    assert (star["bid"], star["ask"], star["tick_size"], star["lot_size"]) == ("49.99", "50.01", "0.01", 100)
    assert star["volume"] >= 100 and star["pinned"] is True
    assert (etf["symbol"], etf["board"], etf["tick_size"]) == ("510300", "etf", "0.001")
    everything = await brokerage.http.get("/v1/market/quotes", headers=brokerage.bank.service_headers)
    assert len(everything.json()["items"]) == 13


@pytest.mark.parametrize(
    ("path", "status", "problem"),
    [
        ("/v1/market/quotes/999999", 404, "unknown-symbol"),
        ("/v1/market/quotes/600519.SZ", 404, "unknown-symbol"),  # listed in Shanghai
        ("/v1/market/quotes?symbols=600519,123456", 422, "unknown-symbol"),
    ],
)
async def test_unknown_symbols_are_problems(brokerage: Brokerage, path: str, status: int, problem: str) -> None:
    r = await brokerage.http.get(path, headers=brokerage.bank.service_headers)
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith(f"/{problem}")


async def test_quotes_need_a_token(brokerage: Brokerage) -> None:
    assert (await brokerage.http.get("/v1/market/quotes/600519")).status_code == 401


@pytest.mark.parametrize(
    ("price", "problem"), [("3000.00", "price-outside-limits"), ("1700.001", "off-tick-price"), ("0", "invalid-price")]
)
async def test_the_price_control_keeps_to_the_rules(brokerage: Brokerage, price: str, problem: str) -> None:
    before = await brokerage.quote("600519")
    r = await brokerage.http.post(
        "/internal/market/600519/price", json={"price": price}, headers=brokerage.bank.operator_headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith(f"/{problem}")
    assert (await brokerage.quote("600519"))["last"] == before["last"]


async def test_the_price_control_is_for_operators(brokerage: Brokerage) -> None:
    customer = await brokerage.bank.new_customer()
    r = await brokerage.http.post("/internal/market/600519/price", json={"price": "1700.00"}, headers=customer.headers)
    assert r.status_code == 403, r.text


async def test_a_move_beyond_the_alert_threshold_alerts_once(brokerage: Brokerage) -> None:
    quote = await brokerage.set_price("601318", "42.80")
    prev = int(quote["prev_close"].replace(".", "")) * 10  # milli-yuan
    up_6pct = f"{prev * 106 // 100 // 10 / 100:.2f}"
    await brokerage.set_price("601318", up_6pct)
    await brokerage.set_price("601318", up_6pct)  # staying above: no second alert
    alert = await brokerage.event("601318", ev.PriceAlerted.TYPE)
    assert (alert.data["direction"], alert.data["threshold_bp"], alert.data["prev_close_milli"]) == ("up", 500, prev)
    assert alert.data["change_bp"] >= 500
    await brokerage.set_price("601318", quote["prev_close"])  # back home: re-armed, quietly
    await brokerage.set_price("601318", up_6pct)  # a second crossing alerts again
    await brokerage.tap.wait_for(
        lambda s: (
            s.record.topic == SECURITIES_EVENTS
            and s.envelope is not None
            and s.envelope.type == ev.PriceAlerted.TYPE
            and s.envelope.subject == "601318"
            and s.envelope.id != alert.id
        ),
        what="a second PriceAlerted",
    )
    alerts = [
        s
        for s in brokerage.tap.seen
        if s.envelope and s.envelope.type == ev.PriceAlerted.TYPE and s.envelope.subject == "601318"
    ]
    assert len(alerts) == 2
