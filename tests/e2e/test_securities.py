"""Mobile securities through the gateway of a running stack: bank-securities transfers,
quotes and the live quote stream, buy -> fill -> position -> sell next day -> proceeds,
cancels, and the orders the rules refuse. Prices are pinned with the operator's sandbox
price control (the market ticker keeps walking the other symbols)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


class Investor:
    """A phone with a checking and a securities cash account, funded by deposit and
    bank-securities transfer."""

    def __init__(self, phone: Phone, checking: str, securities: str) -> None:
        self.phone, self.checking, self.securities = phone, checking, securities

    @classmethod
    async def open(cls, gateway: httpx.AsyncClient, deposit: str, to_securities: str) -> Investor:
        phone = await register_and_login(gateway, name="Chen Jie")
        checking = (await phone.open_account("checking"))["id"]
        securities = (await phone.open_account("securities_cash"))["id"]
        await phone.settled((await phone.deposit(checking, deposit))["id"])
        investor = cls(phone, checking, securities)
        if to_securities:
            transfer = await investor.transfer("bank", to_securities)
            assert transfer["status"] == "completed", transfer
        return investor

    async def transfer(self, source: str, amount: str) -> dict[str, Any]:
        """A bank-securities transfer, once it has ended."""
        return await self.settled_transfer((await self.transfer_started(source, amount))["id"])

    async def transfer_started(self, source: str, amount: str) -> dict[str, Any]:
        r = await self.phone.post(
            "/v1/securities/transfers",
            json={"from": source, "amount": amount},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 202, r.text
        return r.json()  # type: ignore[no-any-return]

    async def settled_transfer(self, transfer_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        async def settled() -> dict[str, Any] | None:
            body = (await self.phone.get(f"/v1/securities/transfers/{transfer_id}")).json()
            return body if body["status"] != "pending" else None

        return await eventually(settled, timeout_s=timeout_s, every_s=0.1)  # type: ignore[no-any-return]

    async def order(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        return await self.phone.post(
            "/v1/securities/orders", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())}
        )

    async def until(self, order_id: str, status: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            body = (await self.phone.get(f"/v1/securities/orders/{order_id}")).json()
            final = body["status"] in ("filled", "cancelled", "rejected")
            return body if body["status"] == status or final else None

        order: dict[str, Any] = await eventually(reached)
        assert order["status"] == status, order
        return order

    async def cash(self, account_id: str) -> tuple[int, int]:
        body = (await self.phone.get(f"/v1/accounts/{account_id}")).json()
        return body["balance_minor"], body["held_minor"]

    async def positions(self) -> list[dict[str, Any]]:
        r = await self.phone.get("/v1/securities/positions")
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]


async def set_price(gateway: httpx.AsyncClient, operator: dict[str, str], symbol: str, price: str) -> dict[str, Any]:
    r = await gateway.post(f"/v1/market/sandbox/{symbol}/price", json={"price": price}, headers=operator)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def assert_problem(r: httpx.Response, status: int, slug: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + slug), r.json()
    assert r.json()["detail"]


async def test_buy_fill_position_then_sell_next_day_for_the_proceeds(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="250000.00", to_securities="200000.00")
    assert await investor.cash(investor.checking) == (50_000_00, 0)
    assert await investor.cash(investor.securities) == (200_000_00, 0)
    await set_price(gateway, operator_headers, "600519", "1700.00")

    body = {"symbol": "600519", "side": "buy", "type": "limit", "quantity": 100, "price": "1690.00"}
    key = str(uuid.uuid4())
    placed = await investor.order(body, key)
    assert placed.status_code == 202, placed.text
    replay = await investor.order(body, key)
    assert (replay.status_code, replay.headers.get("idempotent-replayed")) == (202, "true")
    assert replay.json()["id"] == placed.json()["id"]
    buy = await investor.until(placed.json()["id"], "accepted")
    assert await investor.cash(investor.securities) == (200_000_00, 16_904_225)

    await set_price(gateway, operator_headers, "600519", "1688.00")
    buy = await investor.until(buy["id"], "filled")
    assert (buy["filled_price"], buy["amount"]) == ("1690.00", "169042.25")
    assert await investor.cash(investor.securities) == (200_000_00 - 16_904_225, 0)
    [position] = await investor.positions()
    assert (position["quantity"], position["sellable_quantity"], position["average_cost"]) == (100, 0, "1690.423")
    assert position["market_value"] == "168800.00"

    sell = {"symbol": "600519", "side": "sell", "type": "limit", "quantity": 100, "price": "1750.00"}
    assert_problem(await investor.order(sell), 422, "insufficient-sellable-shares")  # T+1

    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 86_400}, headers=operator_headers)
    assert r.status_code == 200, r.text
    assert r.json()["services"]["securities"] == "ok"
    [position] = await investor.positions()
    assert position["sellable_quantity"] == 100

    placed = await investor.order(sell)
    assert placed.status_code == 202, placed.text
    await investor.until(placed.json()["id"], "accepted")
    await set_price(gateway, operator_headers, "600519", "1760.00")
    sold = await investor.until(placed.json()["id"], "filled")
    # Resting limit sell trades at 1750.00: 175,000.00 less 43.75 commission and 87.50 stamp duty.
    assert (sold["filled_price"], sold["amount"], sold["realised_pnl"]) == ("1750.00", "174868.75", "5826.50")
    assert await investor.positions() == []
    cash = 200_000_00 - 16_904_225 + 17_486_875
    assert await investor.cash(investor.securities) == (cash, 0)

    back = await investor.transfer("securities", "1000.00")
    assert back["status"] == "completed"
    assert await investor.cash(investor.checking) == (51_000_00, 0)
    history = (await investor.phone.get("/v1/securities/orders")).json()["items"]
    assert [(o["side"], o["status"]) for o in history] == [("sell", "filled"), ("buy", "filled")]


async def test_cancelling_a_buy_releases_its_hold(gateway: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    quote = await set_price(gateway, operator_headers, "000001", "10.52")
    placed = await investor.order(
        {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 1_000, "price": quote["limit_down"]}
    )
    order = await investor.until(placed.json()["id"], "accepted")
    assert (await investor.cash(investor.securities))[1] == order["reserved_minor"] > 0

    r = await investor.phone.client.delete(f"/v1/securities/orders/{order['id']}", headers=investor.phone.auth)
    assert r.status_code == 202, r.text
    assert (await investor.until(order["id"], "cancelled"))["reason"] == "customer"
    assert await investor.cash(investor.securities) == (20_000_00, 0)


async def test_orders_the_rules_refuse(gateway: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    investor = await Investor.open(gateway, deposit="5000.00", to_securities="5000.00")
    stranger = await register_and_login(gateway)
    await set_price(gateway, operator_headers, "510300", "3.861")  # the best ask a tick above: 3.862
    base = {"symbol": "510300", "side": "buy", "type": "limit", "quantity": 100}
    for body, status, slug in [
        (base | {"symbol": "888888", "price": "3.862"}, 422, "unknown-symbol"),
        (base | {"quantity": 150, "price": "3.862"}, 422, "odd-lot"),
        (base | {"price": "9.999"}, 422, "price-outside-limits"),
        (base | {"price": "3.8621"}, 422, "off-tick-price"),
        (base | {"side": "sell", "price": "3.862"}, 422, "insufficient-sellable-shares"),
    ]:
        assert_problem(await investor.order(body), status, slug)
    no_key = await investor.phone.post("/v1/securities/orders", json=base | {"price": "3.862"})
    assert_problem(no_key, 400, "idempotency-key-missing")
    assert (await investor.phone.get("/v1/securities/orders")).json()["items"] == []
    assert await investor.cash(investor.securities) == (5_000_00, 0)

    placed = await investor.order({"symbol": "510300", "side": "buy", "type": "market", "quantity": 100})
    filled = await investor.until(placed.json()["id"], "filled")
    assert filled["filled_price"] == "3.862" and filled["amount"] == "391.20"  # 386.20 + 5.00 minimum commission
    path = f"/v1/securities/orders/{filled['id']}"
    assert_problem(await investor.phone.client.delete(path, headers=investor.phone.auth), 409, "order-not-cancellable")
    assert_problem(await stranger.get(path), 404, "not-found")
    assert_problem(await stranger.client.delete(path, headers=stranger.auth), 404, "not-found")


async def test_quotes_and_the_live_stream_through_the_gateway(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], customer: Phone
) -> None:
    r = await customer.get("/v1/market/quotes", params={"symbols": "600036,300750"})
    assert r.status_code == 200, r.text
    assert [q["symbol"] for q in r.json()["items"]] == ["600036", "300750"]
    assert (await gateway.get("/v1/market/quotes")).status_code == 401

    prev_close = (await customer.get("/v1/market/quotes/600036")).json()["prev_close"]
    async with (
        asyncio.timeout(15),
        customer.client.stream(
            "GET", "/v1/market/stream", params={"symbols": "600036"}, headers=customer.auth
        ) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        snapshot = await _next_quote(lines)
        assert snapshot["symbol"] == "600036"
        target = f"{float(prev_close) + 0.37:.2f}"
        await set_price(gateway, operator_headers, "600036", target)
        while (quote := await _next_quote(lines))["last"] != target:
            pass
        assert quote["pinned"] is True and quote["prev_close"] == prev_close


async def _next_quote(lines: Any) -> dict[str, Any]:
    """The data of the next `event: quote` on an SSE stream (comments skipped)."""
    event = None
    async for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "quote":
            return json.loads(line.split(":", 1)[1])  # type: ignore[no-any-return]
    raise AssertionError("the stream ended")
