"""Saga timeouts: a step nobody answers is re-sent, then given up cleanly; a late
answer still wins, because the ledger is the truth. Trading hours in `a_share` mode.

These run a second securities app that sends to accounts but never hears back (no
consumer); a test hands it accounts' answers itself when it wants them heard."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.securities import handlers
from shared.clock import BANK_TZ
from shared.events import Envelope
from shared.events import accounts as acc
from tests.integration.securities.conftest import SpareFactory
from tests.integration.securities.harness import Brokerage

pytestmark = pytest.mark.broker

DEAF = {"step_timeout_s": 0.2, "max_attempts": 3, "sweep_interval_s": 0.05}


async def _hear(spare: Brokerage, envelope: Envelope) -> None:
    """Deliver one of accounts' facts to the deaf app, as its consumer would."""
    handle = handlers.event_handlers(spare.ctx)[envelope.type]
    async with spare.app.state.runtime.unit_of_work() as uow:
        uow.causation = envelope
        await handle(uow, envelope, envelope.message())


async def _answer(brokerage: Brokerage, type_: str, **data: str) -> Envelope:
    seen = await brokerage.bank.tap.wait_for(
        lambda s: (
            s.envelope is not None
            and s.envelope.type == type_
            and all(s.envelope.data.get(k) == v for k, v in data.items())
        ),
        what=f"{type_} {data}",
    )
    assert seen.envelope is not None
    return seen.envelope


async def test_an_unanswered_reservation_is_resent_then_given_up_and_released(
    brokerage: Brokerage, spare_brokerage: SpareFactory
) -> None:
    async with spare_brokerage(**DEAF) as spare:
        investor = await spare.investor(20_000_00)
        await spare.set_price("000001", "10.52")
        r = await spare.place(
            investor, {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 100, "price": "10.50"}
        )
        assert r.status_code == 202, r.text
        order = await spare.until(investor, r.json()["id"], "rejected")
        assert order["reason"] == "timeout"
        hold_id = f"securities-order-{order['id']}"
        await _answer(brokerage, acc.HoldReleased.TYPE, hold_id=hold_id)
        sent = [c for c in brokerage.commands(investor.securities_id) if c.data.get("hold_id") == hold_id]
        assert [c.type for c in sent] == [acc.ReserveFunds.TYPE] * 3 + [acc.ReleaseHold.TYPE]
        assert await spare.cash(investor.securities_id) == (20_000_00, 0)


async def test_a_capture_answered_after_the_order_gave_up_still_fills_it(
    brokerage: Brokerage, spare_brokerage: SpareFactory
) -> None:
    # Slower to give up than DEAF: the reservation's answer must be heard before it does.
    async with spare_brokerage(**(DEAF | {"step_timeout_s": 0.5})) as spare:
        investor = await spare.investor(20_000_00)
        await spare.set_price("000001", "10.52")
        r = await spare.place(investor, {"symbol": "000001", "side": "buy", "type": "market", "quantity": 100})
        order_id = r.json()["id"]
        hold_id = f"securities-order-{order_id}"
        # accounts holds the cash; the reply reaches the deaf app "late", before it gives up.
        reserved = await _answer(brokerage, acc.FundsReserved.TYPE, hold_id=hold_id)
        await _hear(spare, reserved)
        assert (await spare.order(investor, order_id))["status"] == "filling"
        # accounts captures 10.52 x 100 + 5.00; the app never hears it and gives up ...
        captured = await _answer(brokerage, acc.HoldCaptured.TYPE, hold_id=hold_id)
        gave_up = await spare.until(investor, order_id, "rejected")
        assert (gave_up["reason"], gave_up["filled_price"]) == ("timeout", "10.52")
        assert (await spare.positions(investor))["items"] == []
        # ... until the answer arrives after all: the money moved, so the order filled.
        await _hear(spare, captured)
        filled = await spare.order(investor, order_id)
        assert (filled["status"], filled["reason"], filled["amount_minor"]) == ("filled", None, 1_052_00 + 500)
        [position] = (await spare.positions(investor))["items"]
        assert (position["quantity"], position["cost_minor"]) == (100, 1_052_00 + 500)
        assert await spare.cash(investor.securities_id) == (20_000_00 - 1_052_00 - 500, 0)


async def test_an_unanswered_transfer_fails_then_completes_when_the_answer_comes(
    brokerage: Brokerage, spare_brokerage: SpareFactory
) -> None:
    async with spare_brokerage(**DEAF) as spare:
        investor = await spare.investor(0, checking_minor=500_00)
        r = await spare.transfer(investor, {"from": "bank", "amount": "200.00"})
        transfer_id = r.json()["id"]
        failed = await spare.transfer_settled(investor, transfer_id)
        assert (failed["status"], failed["reason"]) == ("failed", "timeout")
        command_id = f"securities-transfer-{transfer_id}"
        sent = [c for c in brokerage.commands(investor.checking_id) if c.data.get("transfer_id") == command_id]
        assert len(sent) == 3
        moved = await _answer(brokerage, acc.FundsTransferred.TYPE, transfer_id=command_id)
        assert await spare.cash(investor.securities_id) == (200_00, 0)  # applied once, for all three sends
        await _hear(spare, moved)
        r = await spare.http.get(f"/v1/securities/transfers/{transfer_id}", headers=investor.headers)
        assert (r.json()["status"], r.json()["reason"]) == ("completed", None)


def _next_saturday_morning_offset_s() -> float:
    now = datetime.now(BANK_TZ)
    target = (now + timedelta(days=(5 - now.weekday()) % 7)).replace(hour=10, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=7)
    return (target - now).total_seconds()


async def test_outside_a_share_hours_orders_and_transfers_are_refused(spare_brokerage: SpareFactory) -> None:
    async with spare_brokerage(hours_mode="a_share", clock_offset_s=_next_saturday_morning_offset_s()) as spare:
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
