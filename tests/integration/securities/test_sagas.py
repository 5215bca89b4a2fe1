"""Saga deadlines on the sandbox clock: a step nobody answers is sent again (a
reservation gives up and releases; a capture or a transfer is sent until accounts
answers), and moving the clock a day ahead re-sends what is in flight instead of failing
it. Trading hours in `a_share` mode.

accounts stays silent with the sandbox's drop fault: it applies every command, but its
facts are lost until the test lets them through again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.securities.domain import TradingCalendar
from shared.clock import BANK_TZ, Clock
from shared.events import accounts as acc
from shared.events import securities as ev
from shared.saga.model import FAILED
from tests.integration.harness import eventually
from tests.integration.securities.conftest import SpareFactory
from tests.integration.securities.harness import Brokerage

pytestmark = pytest.mark.broker

BRISK = {"step_timeout_s": 0.2, "max_attempts": 3, "sweep_interval_s": 0.05}


async def test_an_unanswered_reservation_is_resent_then_given_up_and_released(
    brokerage: Brokerage, spare_brokerage: SpareFactory
) -> None:
    async with spare_brokerage(**BRISK) as spare:
        investor = await spare.investor(20_000_00)
        await spare.set_price("000001", "10.52")
        async with spare.accounts_silent():
            r = await spare.place(
                investor, {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 100, "price": "10.50"}
            )
            assert r.status_code == 202, r.text
            order = await spare.until(investor, r.json()["id"], "rejected")
            assert (order["reason"], order["detail"]) == ("timeout", "accounts did not answer the reserve step in time")
            hold = {"hold_id": f"securities-order-{order['id']}"}
            # The release is sent until accounts is heard: the hold must not outlive the order.
            await eventually(lambda: len(spare.commands(investor.securities_id, **hold)) >= 5, "releases re-sent")
            assert await spare.saga_of(order["id"]) == ("release", None)
        assert await eventually(lambda: _ended(spare, order["id"]), "the release answered") == FAILED
        sent = [c.type for c in spare.commands(investor.securities_id, **hold)]
        assert sent[:3] == [acc.ReserveFunds.TYPE] * 3
        assert set(sent[3:]) == {acc.ReleaseHold.TYPE}
        assert await spare.cash(investor.securities_id) == (20_000_00, 0)
        assert (await spare.order(investor, order["id"]))["status"] == "rejected"
        await spare.event(order["id"], ev.OrderRejected.TYPE)


async def test_an_unanswered_capture_is_resent_until_accounts_answers_then_the_order_fills(
    spare_brokerage: SpareFactory,
) -> None:
    async with spare_brokerage(**BRISK) as spare:
        investor = await spare.investor(20_000_00)
        await spare.set_price("000001", "10.52")
        buy = await spare.buy(investor, "000001", 100, "10.50")
        hold = {"hold_id": f"securities-order-{buy['id']}"}
        async with spare.accounts_silent():
            await spare.set_price("000001", "10.40")  # crosses the limit: the buy trades at 10.50

            def captures() -> int:
                return sum(c.type == acc.CaptureHold.TYPE for c in spare.commands(investor.securities_id, **hold))

            # More sends than a reservation gets: a capture is never given up.
            await eventually(lambda: captures() > BRISK["max_attempts"], "captures re-sent")
            assert (await spare.order(investor, buy["id"]))["status"] == "filling"
            # accounts applied the first capture and answered the others with the same fact.
            assert await spare.cash(investor.securities_id) == (20_000_00 - 1_050_00 - 500, 0)
        filled = await spare.until(investor, buy["id"], "filled")
        assert (filled["filled_price"], filled["amount_minor"], filled["reason"]) == ("10.50", 1_050_00 + 500, None)
        [position] = (await spare.positions(investor))["items"]
        assert (position["quantity"], position["cost_minor"]) == (100, 1_050_00 + 500)
        assert await spare.cash(investor.securities_id) == (20_000_00 - 1_050_00 - 500, 0)


async def test_a_repeated_reservation_answer_leaves_a_resting_buy_trading_at_its_limit(
    spare_brokerage: SpareFactory,
) -> None:
    """accounts answers a reservation sent again with the same fact. That answer must not
    bring a buy already resting to the market a second time: arriving once the book has
    moved through its limit, it would take the book's price instead of its limit's. (Under
    load the reservation above was re-sent and its second answer came while the price was
    being set, and the buy traded at 10.41.)"""
    # Nothing matches the buy but what the test does: no market ticker (the buy coming to
    # rest wakes it, and once the price below is set it rightly fills the buy at its limit),
    # and no reservation re-sent by the sweeper (the test repeats the answer itself).
    async with spare_brokerage(tick_interval_ms=0, step_timeout_s=600) as spare:
        investor = await spare.investor(20_000_00)
        await spare.set_price("000001", "10.52")
        buy = await spare.buy(investor, "000001", 100, "10.50")
        [reserve] = [c for c in spare.commands(investor.securities_id) if c.type == acc.ReserveFunds.TYPE]
        # The book moves through the limit; the market has not matched the resting buy yet.
        spare.ctx.sim.set_price("000001", 10_400, pinned=True, at=spare.ctx.clock.now())

        again = await spare.bank.send_fact(
            acc.FundsReserved(
                account_id=investor.securities_id,
                hold_id=reserve.data["hold_id"],
                amount_minor=reserve.data["amount_minor"],
                currency="CNY",
                available_minor=0,
            ),
            answering="securities",
        )
        await eventually(lambda: spare.applied(again.id), "the repeated answer applied")

        assert (await spare.order(investor, buy["id"]))["status"] == "accepted"
        await spare.set_price("000001", "10.40")
        filled = await spare.until(investor, buy["id"], "filled")
        assert (filled["filled_price"], filled["amount_minor"]) == ("10.50", 1_050_00 + 500)


async def test_an_unanswered_transfer_is_resent_until_accounts_answers(spare_brokerage: SpareFactory) -> None:
    async with spare_brokerage(**BRISK) as spare:
        investor = await spare.investor(0, checking_minor=500_00)
        async with spare.accounts_silent():
            r = await spare.transfer(investor, {"from": "bank", "amount": "200.00"})
            transfer_id = r.json()["id"]
            sent = {"transfer_id": f"securities-transfer-{transfer_id}"}
            await eventually(
                lambda: len(spare.commands(investor.checking_id, **sent)) > BRISK["max_attempts"], "transfers re-sent"
            )
            pending = await spare.http.get(f"/v1/securities/transfers/{transfer_id}", headers=investor.headers)
            assert pending.json()["status"] == "pending"
            assert await spare.cash(investor.securities_id) == (200_00, 0)  # applied once, for every send
        done = await spare.transfer_settled(investor, transfer_id)
        assert (done["status"], done["reason"]) == ("completed", None)
        assert await spare.bank.balances(investor.checking_id, investor.securities_id) == [(300_00, 0), (200_00, 0)]


async def test_moving_the_clock_days_ahead_resends_the_steps_in_flight_instead_of_failing_them(
    brokerage: Brokerage, spare_brokerage: SpareFactory
) -> None:
    # Steps wait a minute, so only the clock's moves make them overdue; the spare app
    # reads the package app's clock, which `advance_days` moves with accounts'.
    async with spare_brokerage(clock=brokerage.ctx.clock, step_timeout_s=60, max_attempts=2) as spare:
        investor = await spare.investor(20_000_00, checking_minor=500_00)
        await spare.set_price("000001", "10.52")
        buy = await spare.buy(investor, "000001", 100, "10.50")
        hold = {"hold_id": f"securities-order-{buy['id']}"}
        async with spare.accounts_silent():
            await spare.set_price("000001", "10.40")  # the buy is matched: its capture is in flight
            r = await spare.transfer(investor, {"from": "bank", "amount": "200.00"})
            transfer_id = r.json()["id"]
            sent = {"transfer_id": f"securities-transfer-{transfer_id}"}

            def sends() -> tuple[int, int]:
                captures = spare.commands(investor.securities_id, **hold)
                transfers = spare.commands(investor.checking_id, **sent)
                return sum(c.type == acc.CaptureHold.TYPE for c in captures), len(transfers)

            await eventually(lambda: sends() == (1, 1), "the capture and the transfer sent")
            # Each move makes both overdue once: one more send each, past max_attempts too.
            for moves in (1, 2):
                await brokerage.advance_days(1)
                await eventually(lambda moves=moves: sends() == (1 + moves, 1 + moves), f"re-sent after move {moves}")
            assert (await spare.order(investor, buy["id"]))["status"] == "filling"
            transfer = await spare.http.get(f"/v1/securities/transfers/{transfer_id}", headers=investor.headers)
            assert transfer.json()["status"] == "pending"
        # Heard again, the next send is answered.
        await brokerage.advance_days(1)
        assert (await spare.until(investor, buy["id"], "filled"))["amount_minor"] == 1_050_00 + 500
        assert (await spare.transfer_settled(investor, transfer_id))["status"] == "completed"
        assert await spare.cash(investor.securities_id) == (20_000_00 + 200_00 - 1_050_00 - 500, 0)


async def _ended(spare: Brokerage, order_id: str) -> str | None:
    step, outcome = await spare.saga_of(order_id)
    return outcome if step is None else None


def _next_saturday_morning_offset() -> timedelta:
    now = datetime.now(BANK_TZ)
    target = (now + timedelta(days=(5 - now.weekday()) % 7)).replace(hour=10, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=7)
    return target - now


async def test_outside_a_share_hours_orders_and_transfers_are_refused(spare_brokerage: SpareFactory) -> None:
    async with spare_brokerage(hours_mode="a_share", clock=Clock(_next_saturday_morning_offset())) as spare:
        investor = await spare.investor(10_000_00, checking_minor=10_000_00)
        r = await spare.place(investor, {"symbol": "601398", "side": "buy", "type": "market", "quantity": 100})
        assert r.status_code == 409, r.text
        assert r.json()["type"].endswith("/market-closed")
        assert "09:30-11:30 and 13:00-15:00" in r.json()["detail"] and "Sat 10:00" in r.json()["detail"]
        t = await spare.transfer(investor, {"from": "bank", "amount": "100.00"})
        assert (t.status_code, t.json()["type"].rsplit("/", 1)[-1]) == (409, "market-closed")
        assert (await spare.quote("601398"))["market_open"] is False
        assert await spare.orders(investor) == []
        assert await spare.cash(investor.securities_id) == (10_000_00, 0)


async def test_on_an_exchange_holiday_orders_are_refused_and_the_calendar_says_so(
    spare_brokerage: SpareFactory,
) -> None:
    # Monday 5 October 2026, 10:00 Beijing time: Golden Week, a weekday without trading.
    holiday = datetime(2026, 10, 5, 10, 0, tzinfo=BANK_TZ)
    async with spare_brokerage(hours_mode="a_share", clock=Clock(holiday - datetime.now(BANK_TZ))) as spare:
        investor = await spare.investor(10_000_00, checking_minor=10_000_00)
        r = await spare.place(
            investor, {"symbol": "601398", "side": "buy", "type": "limit", "quantity": 100, "price": "5.12"}
        )
        assert r.status_code == 409, r.text
        assert r.json()["type"].endswith("/market-closed")
        assert "an exchange holiday" in r.json()["detail"]
        assert r.json()["detail"].endswith("opens next at Thu 2026-10-08 09:30")

        r = await spare.http.get(
            "/v1/market/calendar", params={"from": "2026-09-30", "to": "2026-10-09"}, headers=investor.headers
        )
        assert r.status_code == 200, r.text
        calendar = r.json()
        assert (calendar["hours_mode"], calendar["open_now"]) == ("a_share", False)
        assert calendar["next_open"].startswith("2026-10-08T09:30:00")
        assert [d["day"][-2:] for d in calendar["days"] if d["trading"]] == ["30", "08", "09"]
        assert calendar["sessions"] == [{"start": "09:30", "end": "11:30"}, {"start": "13:00", "end": "15:00"}]
        backwards = await spare.http.get(
            "/v1/market/calendar", params={"from": "2026-10-09", "to": "2026-09-30"}, headers=investor.headers
        )
        assert backwards.status_code == 422, backwards.text


async def test_t_plus_one_counts_trading_days_over_a_weekend(spare_brokerage: SpareFactory) -> None:
    # The next Friday 10:00 Beijing time whose Monday trades too (the clock only moves ahead).
    calendar, now = TradingCalendar(), datetime.now(BANK_TZ)
    friday = (now + timedelta(days=(4 - now.weekday()) % 7 or 7)).replace(hour=10, minute=0, second=0, microsecond=0)
    while not (calendar.is_trading_day(friday.date()) and calendar.is_trading_day(friday.date() + timedelta(days=3))):
        friday += timedelta(days=7)
    monday = friday.date() + timedelta(days=3)
    async with spare_brokerage(hours_mode="a_share", clock=Clock(friday - now)) as spare:
        investor = await spare.investor(10_000_00)
        await spare.set_price("601398", "5.11")
        await spare.buy(investor, "601398", 100, "5.12", wait="filled")
        sell = {"symbol": "601398", "side": "sell", "type": "market", "quantity": 100}
        r = await spare.place(investor, sell)
        assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (422, "insufficient-sellable-shares")

        await spare.advance_days(1)  # Saturday: no trading day
        r = await spare.place(investor, sell)
        assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (409, "market-closed")
        assert r.json()["detail"].endswith(f"opens next at Mon {monday.isoformat()} 09:30")
        assert (await spare.quote("601398"))["bank_day"] == friday.date().isoformat()  # the market stays on Friday

        await spare.advance_days(2)  # Monday: the next trading day
        [position] = (await spare.positions(investor))["items"]
        assert (position["sellable_quantity"], position["bought_today_quantity"]) == (100, 0)
        r = await spare.place(investor, sell)
        assert r.status_code == 202, r.text
        await spare.until(investor, r.json()["id"], "filled")
        bars = await spare.http.get("/v1/market/601398/bars", headers=investor.headers)
        days = [b["day"] for b in bars.json()["items"]][-2:]
        assert days == [friday.date().isoformat(), monday.isoformat()]  # no bars for the weekend
