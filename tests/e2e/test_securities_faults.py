"""The securities order saga through sandbox faults on accounts' outgoing messages: answers
dropped are recovered by the saga's re-sends, answers duplicated are applied once. The
order fills once, the cash moves once, and the ledger balances."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.phone import eventually
from tests.e2e.test_securities import Investor, set_price

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

# The session stack's saga timeouts (BRISK_SAGAS): a re-send is due 3 s after a send, then 6 s, ...
RESEND_WAIT_S = 30.0


async def fault(gateway: httpx.AsyncClient, operator: dict[str, str], mode: str) -> dict[str, Any]:
    body = {"service": "accounts", "mode": mode, "duration_s": 120}
    r = await gateway.post("/v1/sandbox/faults", json=body, headers=operator)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def until_dropped(gateway: httpx.AsyncClient, operator: dict[str, str], before: int) -> None:
    """Keep accounts' answers dropping until at least one more was lost."""

    async def more() -> bool:
        return int((await fault(gateway, operator, "drop"))["dropped"]) > before

    await eventually(more, timeout_s=10, every_s=0.1)


async def test_an_order_whose_answers_are_dropped_is_resent_and_fills_once(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    await set_price(gateway, operator_headers, "000001", "10.52")
    body = {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 100, "price": "10.50"}
    try:
        # The reservation is applied, its answer lost: the order stays pending ...
        dropped = (await fault(gateway, operator_headers, "drop"))["dropped"]
        placed = await investor.order(body)
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["id"]

        async def held() -> bool:
            return (await investor.cash(investor.securities))[1] > 0

        await eventually(held)
        await until_dropped(gateway, operator_headers, dropped)
        assert (await investor.phone.get(f"/v1/securities/orders/{order_id}")).json()["status"] == "pending"
        # ... until the saga sends the reservation again and hears accounts' repeated answer.
        await fault(gateway, operator_headers, "none")
        await _reached(investor, order_id, "accepted")

        # The capture is applied, its answer lost: the order stays filling ...
        dropped = (await fault(gateway, operator_headers, "drop"))["dropped"]
        await set_price(gateway, operator_headers, "000001", "10.40")

        async def captured() -> bool:
            return await investor.cash(investor.securities) == (20_000_00 - 1_050_00 - 500, 0)

        await eventually(captured)
        await until_dropped(gateway, operator_headers, dropped)
        assert (await investor.phone.get(f"/v1/securities/orders/{order_id}")).json()["status"] == "filling"
    finally:
        await fault(gateway, operator_headers, "none")
    # ... until the capture is sent again: the order fills once, the cash moved once.
    filled = await _reached(investor, order_id, "filled")
    assert (filled["filled_price"], filled["amount_minor"]) == ("10.50", 1_050_00 + 500)
    [position] = await investor.positions()
    assert (position["symbol"], position["quantity"]) == ("000001", 100)
    assert await investor.cash(investor.securities) == (20_000_00 - 1_050_00 - 500, 0)


async def test_an_order_whose_answers_are_duplicated_fills_once(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    investor = await Investor.open(gateway, deposit="20000.00", to_securities="20000.00")
    await set_price(gateway, operator_headers, "000001", "10.52")
    try:
        await fault(gateway, operator_headers, "duplicate")
        placed = await investor.order(
            {"symbol": "000001", "side": "buy", "type": "limit", "quantity": 100, "price": "10.50"}
        )
        assert placed.status_code == 202, placed.text
        await _reached(investor, placed.json()["id"], "accepted")
        await set_price(gateway, operator_headers, "000001", "10.40")
        filled = await _reached(investor, placed.json()["id"], "filled")
    finally:
        counters = await fault(gateway, operator_headers, "none")
    assert counters["duplicated"] > 0, "the fault really duplicated accounts' answers"
    assert filled["amount_minor"] == 1_050_00 + 500
    [position] = await investor.positions()
    assert position["quantity"] == 100
    assert await investor.cash(investor.securities) == (20_000_00 - 1_050_00 - 500, 0)
    statement = (await investor.phone.get(f"/v1/accounts/{investor.securities}/transactions")).json()["items"]
    assert [line["amount_minor"] for line in statement] == [-(1_050_00 + 500), 20_000_00]


async def _reached(investor: Investor, order_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (await investor.phone.get(f"/v1/securities/orders/{order_id}")).json()
        return body if body["status"] == status or body["status"] in ("filled", "cancelled", "rejected") else None

    order = await eventually(probe, timeout_s=RESEND_WAIT_S, every_s=0.1)
    assert order["status"] == status, order
    return order  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["drop", "duplicate"])
async def test_a_bank_securities_transfer_survives_a_dropped_or_duplicated_answer(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], mode: str
) -> None:
    """accounts' answer to the transfer lost (the saga sends it again and hears the answer
    accounts kept) or sent twice: the cash moves once."""
    investor = await Investor.open(gateway, deposit="500.00", to_securities="")
    try:
        await fault(gateway, operator_headers, mode)
        transfer = await investor.transfer_started("bank", "200.00")
        if mode == "drop":

            async def moved() -> bool:
                return await investor.cash(investor.securities) == (200_00, 0)

            await eventually(moved)
    finally:
        await fault(gateway, operator_headers, "none")
    done = await investor.settled_transfer(transfer["id"], timeout_s=RESEND_WAIT_S)
    assert done["status"] == "completed", done
    assert await investor.cash(investor.checking) == (300_00, 0)
    assert await investor.cash(investor.securities) == (200_00, 0)
