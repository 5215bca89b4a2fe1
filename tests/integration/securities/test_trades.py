"""Trade confirmations, realised P&L and tradable / withdrawable cash against a real
database (SQLite, and PostgreSQL when configured): the sums and day filters are SQL."""

from __future__ import annotations

from tests.integration.securities.harness import Brokerage


async def test_a_round_trip_leaves_two_confirmations_a_pnl_and_proceeds_withdrawable_next_day(
    brokerage: Brokerage,
) -> None:
    investor = await brokerage.investor(100_000_00)
    # One lot: every level of the simulated book shows at least that, so each order fills
    # whole at the best price (a tick from the last): 5.12 bought, 5.30 sold.
    await brokerage.set_price("601398", "5.11")
    buy = await brokerage.buy(investor, "601398", 100, "5.12", wait="filled")
    await brokerage.advance_days(1)
    await brokerage.set_price("601398", "5.31")
    r = await brokerage.place(investor, {"symbol": "601398", "side": "sell", "type": "market", "quantity": 100})
    assert r.status_code == 202, r.text
    sell = await brokerage.until(investor, r.json()["id"], "filled")

    trades = (await brokerage.http.get("/v1/securities/trades", headers=investor.headers)).json()["items"]
    assert [(t["side"], t["order_id"], t["price"]) for t in trades] == [
        ("sell", sell["id"], "5.30"),
        ("buy", buy["id"], "5.12"),
    ]
    # 100 x 5.30 = 530.00 less 5.00 commission and 0.27 stamp duty; it cost 517.00.
    assert (trades[0]["net"], trades[0]["realised_pnl"]) == ("524.73", "7.73")
    on_sale_day = await brokerage.http.get(
        "/v1/securities/trades", params={"from": trades[0]["trade_day"]}, headers=investor.headers
    )
    assert [t["side"] for t in on_sale_day.json()["items"]] == ["sell"]
    pnl = (await brokerage.http.get("/v1/securities/pnl", headers=investor.headers)).json()
    assert (pnl["total"], pnl["items"][0]["quantity_sold"], pnl["items"][0]["sells"]) == ("7.73", 100, 1)

    cash = (await brokerage.http.get("/v1/securities/cash", headers=investor.headers)).json()
    balance = 100_000_00 - 517_00 + 524_73
    assert (cash["tradable_minor"], cash["withdrawable_minor"]) == (balance, balance - 524_73)
    await brokerage.advance_days(1)
    cash = (await brokerage.http.get("/v1/securities/cash", headers=investor.headers)).json()
    assert (cash["withdrawable_minor"], cash["proceeds_today_minor"]) == (balance, 0)
