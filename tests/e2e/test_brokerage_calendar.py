"""The A-share calendar end to end: the side stack (conftest), whose market keeps A-share
hours (`SECURITIES_HOURS_MODE=a_share`), driven through the gateway across weekends and a
holiday with the sandbox clock. An order on a Saturday is refused saying when the market
opens next; a Friday's buy sells on Monday, not on Friday; a Friday sale's proceeds buy
shares at once but leave for the bank on Monday, not on Saturday; a holiday behaves like
a weekend; `GET /v1/market/calendar` agrees. The ledger check balances after each test.

The stack's holidays are a setting: every Wednesday here (`SECURITIES_HOLIDAYS`), so a
holiday is never more than a week ahead of a clock that only moves forward, and Thursday,
Friday, Monday and Tuesday always trade. Each test moves the clock to the next day it
needs from wherever the previous test (of this module or another on the side stack) left
it, so each runs alone as well as in any order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shared.clock import BANK_TZ
from tests.e2e.conftest import A_SHARE_HOLIDAYS, client_of, operator_login
from tests.e2e.test_securities import Investor, assert_problem, set_price
from tools.stack import Stack

pytestmark = pytest.mark.e2e

MON, TUE, WED, THU, FRI, SAT = range(6)
SYMBOL = "601398"  # about 5 CNY a share: a lot costs about 500.00
HOLIDAYS = A_SHARE_HOLIDAYS  # every Wednesday for two years from today


def trading(day: date) -> bool:
    return day.weekday() < SAT and day.weekday() != WED


@pytest.fixture
async def gateway(side_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The side stack's gateway (its market keeps A-share hours: conftest's A_SHARE_MARKET);
    the ledger check must find nothing wrong after the test."""
    async with client_of(side_stack) as client:
        yield client
        r = await client.get("/v1/admin/ledger/check", headers=await operator_login(client))
        assert r.status_code == 200, r.text
        assert r.json()["ok"], r.json()["violations"]


@pytest.fixture
async def operator(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await operator_login(gateway)


async def move_to(gateway: httpx.AsyncClient, operator: dict[str, str], weekday: int, then: list[int]) -> date:
    """Put every process's clock at 10:00 Beijing time (in the morning session) on the
    next `weekday` after the clock's bank day from which every day `then` days on trades.
    The day it moved to."""
    r = await gateway.get("/v1/sandbox/clock", headers=operator)
    assert r.status_code == 200, r.text
    day = date.fromisoformat(r.json()["bank_day"]) + timedelta(days=1)
    while day.weekday() != weekday or not all(trading(day + timedelta(days=n)) for n in then):
        day += timedelta(days=1)
    await at(gateway, operator, day)
    return day


async def at(gateway: httpx.AsyncClient, operator: dict[str, str], day: date) -> None:
    """The clock at 10:00 Beijing time on `day` (ahead of it)."""
    moment = datetime.combine(day, time(10, 0), tzinfo=BANK_TZ)
    r = await gateway.post(
        "/v1/sandbox/clock", json={"offset_s": (moment - datetime.now(UTC)).total_seconds()}, headers=operator
    )
    assert r.status_code == 200, r.text
    assert set(r.json()["services"].values()) == {"ok"}, r.json()


async def pinned(investor: Investor, gateway: httpx.AsyncClient, operator: dict[str, str]) -> dict[str, Any]:
    """The symbol pinned at its previous close, so its book stays put for the day."""
    prev_close = (await investor.phone.get(f"/v1/market/quotes/{SYMBOL}")).json()["prev_close"]
    return await set_price(gateway, operator, SYMBOL, prev_close)


async def market(investor: Investor, side: str, quantity: int = 100) -> httpx.Response:
    return await investor.order({"symbol": SYMBOL, "side": side, "type": "market", "quantity": quantity})


async def bought(investor: Investor, gateway: httpx.AsyncClient, operator: dict[str, str]) -> dict[str, Any]:
    await pinned(investor, gateway, operator)
    placed = await market(investor, "buy")
    assert placed.status_code == 202, placed.text
    return await investor.until(placed.json()["id"], "filled")


async def sold(investor: Investor, gateway: httpx.AsyncClient, operator: dict[str, str]) -> dict[str, Any]:
    await pinned(investor, gateway, operator)
    placed = await market(investor, "sell")
    assert placed.status_code == 202, placed.text
    return await investor.until(placed.json()["id"], "filled")


async def cash(investor: Investor) -> dict[str, Any]:
    r = await investor.phone.get("/v1/securities/cash")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def sellable(investor: Investor) -> int:
    [position] = await investor.positions()
    return int(position["sellable_quantity"])


async def calendar(investor: Investor, first: date, last: date) -> dict[str, Any]:
    r = await investor.phone.get("/v1/market/calendar", params={"from": first.isoformat(), "to": last.isoformat()})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def opens_next(day: date) -> str:
    return f"opens next at {day:%a} {day.isoformat()} 09:30"


async def test_an_order_on_a_saturday_is_refused_saying_when_the_market_opens_next_and_the_calendar_agrees(
    gateway: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    friday = await move_to(gateway, operator, FRI, [0, 3])
    investor = await Investor.open(gateway, deposit="2000.00", to_securities="2000.00")
    saturday, monday = friday + timedelta(days=1), friday + timedelta(days=3)
    await at(gateway, operator, saturday)

    r = await market(investor, "buy")
    assert_problem(r, 409, "market-closed")
    assert f"it is now Sat 10:00 ({saturday.isoformat()})" in r.json()["detail"]
    assert r.json()["detail"].endswith(opens_next(monday))
    r = await investor.phone.post(
        "/v1/securities/transfers", json={"from": "securities", "amount": "1.00"}, headers={"Idempotency-Key": "sat"}
    )
    assert_problem(r, 409, "market-closed")
    assert (await investor.phone.get("/v1/securities/orders")).json()["items"] == []
    assert await investor.cash(investor.securities) == (2_000_00, 0)
    assert (await investor.phone.get(f"/v1/market/quotes/{SYMBOL}")).json()["market_open"] is False

    days = await calendar(investor, friday, monday)
    assert (days["hours_mode"], days["open_now"]) == ("a_share", False)
    assert days["next_open"] == datetime.combine(monday, time(9, 30), tzinfo=BANK_TZ).isoformat()
    assert [(d["day"], d["trading"], d["closed"]) for d in days["days"]] == [
        (friday.isoformat(), True, None),
        (saturday.isoformat(), False, "weekend"),
        ((friday + timedelta(days=2)).isoformat(), False, "weekend"),
        (monday.isoformat(), True, None),
    ]


async def test_a_friday_buy_sells_on_monday_and_not_on_friday(
    gateway: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    friday = await move_to(gateway, operator, FRI, [0, 3])
    investor = await Investor.open(gateway, deposit="2000.00", to_securities="2000.00")
    buy = await bought(investor, gateway, operator)
    assert buy["bank_day"] == friday.isoformat()
    assert await sellable(investor) == 0
    assert_problem(await market(investor, "sell"), 422, "insufficient-sellable-shares")  # T+1

    await at(gateway, operator, friday + timedelta(days=1))
    assert_problem(await market(investor, "sell"), 409, "market-closed")
    assert await sellable(investor) == 0  # Saturday trades nothing: still Friday's buy

    monday = friday + timedelta(days=3)
    await at(gateway, operator, monday)
    assert await sellable(investor) == 100
    sale = await sold(investor, gateway, operator)
    assert sale["bank_day"] == monday.isoformat()
    assert await investor.positions() == []
    # The market had no day on the weekend: Friday's bar is followed by Monday's.
    bars = (await investor.phone.get(f"/v1/market/{SYMBOL}/bars")).json()["items"]
    assert [b["day"] for b in bars][-2:] == [friday.isoformat(), monday.isoformat()]


async def test_a_friday_sales_proceeds_buy_at_once_but_leave_for_the_bank_on_monday_not_saturday(
    gateway: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    thursday = await move_to(gateway, operator, THU, [0, 1, 4])
    friday, saturday, monday = (thursday + timedelta(days=n) for n in (1, 2, 4))
    investor = await Investor.open(gateway, deposit="1000.00", to_securities="1000.00")
    first = await bought(investor, gateway, operator)
    before = 1_000_00 - first["amount_minor"]

    await at(gateway, operator, friday)
    sale = await sold(investor, gateway, operator)
    proceeds = sale["amount_minor"]
    now = await cash(investor)
    assert (now["tradable_minor"], now["withdrawable_minor"], now["proceeds_today_minor"]) == (
        before + proceeds,
        before,
        proceeds,
    )
    too_much = f"{Decimal(before + 1) / 100:.2f}"
    r = await investor.phone.post(
        "/v1/securities/transfers", json={"from": "securities", "amount": too_much}, headers={"Idempotency-Key": "fri"}
    )
    assert_problem(r, 422, "not-withdrawable-yet")
    # 可用: a market buy reserves at limit-up, more than the cash there was before the sale.
    again = await bought(investor, gateway, operator)
    assert again["bank_day"] == friday.isoformat()
    left = before + proceeds - again["amount_minor"]
    assert (await cash(investor))["withdrawable_minor"] == max(0, left - proceeds)

    # Saturday is no trading day: Friday's proceeds are not withdrawable yet.
    await at(gateway, operator, saturday)
    now = await cash(investor)
    assert (now["bank_day"], now["tradable_minor"]) == (saturday.isoformat(), left)
    assert (now["withdrawable_minor"], now["proceeds_today_minor"]) == (max(0, left - proceeds), proceeds)

    # Monday, the next trading day: they are (可取).
    await at(gateway, operator, monday)
    now = await cash(investor)
    assert (now["withdrawable_minor"], now["proceeds_today_minor"]) == (left, 0)
    out = await investor.transfer("securities", now["withdrawable"])
    assert out["status"] == "completed", out
    assert await investor.cash(investor.securities) == (0, 0)


async def test_an_exchange_holiday_behaves_like_a_weekend(gateway: httpx.AsyncClient, operator: dict[str, str]) -> None:
    monday = await move_to(gateway, operator, MON, [0, 1, 3])
    tuesday, holiday, thursday = (monday + timedelta(days=n) for n in (1, 2, 3))
    investor = await Investor.open(gateway, deposit="2000.00", to_securities="2000.00")
    await bought(investor, gateway, operator)
    await at(gateway, operator, tuesday)
    proceeds = (await sold(investor, gateway, operator))["amount_minor"]
    await bought(investor, gateway, operator)
    assert await sellable(investor) == 0

    await at(gateway, operator, holiday)
    r = await market(investor, "sell")
    assert_problem(r, 409, "market-closed")
    assert f"({holiday.isoformat()}, an exchange holiday)" in r.json()["detail"]
    assert r.json()["detail"].endswith(opens_next(thursday))
    # Tuesday's buy does not sell and Tuesday's proceeds do not leave on the holiday...
    assert await sellable(investor) == 0
    assert (await cash(investor))["proceeds_today_minor"] == proceeds
    days = await calendar(investor, tuesday, thursday)
    assert [(d["trading"], d["closed"]) for d in days["days"]] == [(True, None), (False, "holiday"), (True, None)]
    assert (days["open_now"], days["next_open"]) == (
        False,
        datetime.combine(thursday, time(9, 30), tzinfo=BANK_TZ).isoformat(),
    )

    # ... but on the next trading day they do.
    await at(gateway, operator, thursday)
    assert await sellable(investor) == 100
    now = await cash(investor)
    assert (now["withdrawable_minor"], now["proceeds_today_minor"]) == (now["tradable_minor"], 0)
    await sold(investor, gateway, operator)
    assert await investor.positions() == []
