"""The broker is a transport, not the record (ADR 0013): the embedded broker killed under
load and started again empty loses nothing. Every payment and deposit ends, no hold is
left, the ledger balances and each service reports the broker while it is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import client_of, operator_login
from tests.e2e.phone import Phone, eventually, register_and_login
from tests.tokens import Minter
from tools.stack import Stack

pytestmark = pytest.mark.e2e

PAIRS = 6
# Under the velocity rule (20 a minute), so every one of them may complete.
TRANSFERS_PER_PAYER = 18


@pytest.fixture
def lossy_stack(side_stack: Stack) -> Stack:
    """Not the session stack: this test takes its broker away."""
    return side_stack


async def _transfers(payer: Phone, source: str, target: str, sent: list[str], stop: asyncio.Event) -> None:
    """Transfers of 1.00, one after another, until told to stop; each accepted id kept."""
    for _ in range(TRANSFERS_PER_PAYER):
        if stop.is_set():
            return
        try:
            r = await payer.post(
                "/v1/payments/transfers",
                json={"payer_account_id": source, "payee_account_id": target, "amount": "1.00"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        except httpx.TransportError:
            continue
        if r.status_code == 202:
            sent.append(r.json()["id"])
        await asyncio.sleep(0.3)


async def _not_ready_for_the_broker(stack: Stack) -> dict:
    async def reported() -> dict | None:
        async with httpx.AsyncClient(timeout=3) as client:
            r = await client.get(f"{stack.url('payments')}/readyz")
        body = r.json()
        return body if r.status_code == 503 and not body["checks"]["broker"] else None

    return await eventually(reported, timeout_s=15, every_s=0.2)


async def test_a_broker_killed_under_load_and_started_empty_loses_nothing(lossy_stack: Stack) -> None:
    async with client_of(lossy_stack) as gateway:
        operator = await operator_login(gateway)
        pairs = []
        for _ in range(PAIRS):
            payer, payee = await register_and_login(gateway), await register_and_login(gateway)
            source, target = await payer.open_account(), await payee.open_account()
            await payer.settled((await payer.deposit(source["id"], "500.00"))["id"])
            pairs.append((payer, payee, source["id"], target["id"]))
        sent: list[list[str]] = [[] for _ in pairs]
        stop = asyncio.Event()
        load = [
            asyncio.create_task(_transfers(payer, source, target, sent[i], stop))
            for i, (payer, _, source, target) in enumerate(pairs)
        ]
        # Deposits made just before the broker goes: their credits are in flight.
        depositor = pairs[0][1]
        deposits = [await depositor.deposit(pairs[0][3], "3.00") for _ in range(5)]
        await asyncio.sleep(1.0)
        # Accounts pauses while transfers are accepted; then the gateway stops reading as
        # accounts catches up, so when the broker goes it holds facts nobody has read yet
        # (payments completed): only payments' outbox still has them.
        accounts_pid = lossy_stack._process("accounts").process.pid
        gateway_pid = lossy_stack._process("gateway").process.pid
        os.kill(accounts_pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(1.5)
            os.kill(gateway_pid, signal.SIGSTOP)
        finally:
            os.kill(accounts_pid, signal.SIGCONT)
        try:
            await asyncio.sleep(2.0)
            await asyncio.to_thread(lossy_stack.kill, "broker")
        finally:
            os.kill(gateway_pid, signal.SIGCONT)
        down = await _not_ready_for_the_broker(lossy_stack)
        assert "unreachable" in down["problems"]["broker"], down
        await asyncio.sleep(2.0)
        started = time.monotonic()
        await asyncio.to_thread(lossy_stack.restart, "broker")
        await asyncio.gather(*load)
        stop.set()
        assert sum(len(s) for s in sent) > 20, "the load ran on both sides of the loss"

        async def all_ended() -> list[list[dict]] | None:
            outcomes = []
            for (payer, _, _, _), ids in zip(pairs, sent, strict=True):
                bodies = [(await payer.get(f"/v1/payments/{i}")).json() for i in ids]
                if any(b["status"] == "pending" for b in bodies):
                    return None
                outcomes.append(bodies)
            return outcomes

        outcomes = await eventually(all_ended, timeout_s=120, every_s=0.5)
        recovered_s = time.monotonic() - started

        async def deposits_ended() -> list[dict] | None:
            bodies = [(await depositor.get(f"/v1/sandbox/deposits/{d['id']}")).json() for d in deposits]
            return bodies if all(b["status"] != "pending" for b in bodies) else None

        deposit_outcomes = await eventually(deposits_ended, timeout_s=60, every_s=0.5)
        assert [d["status"] for d in deposit_outcomes] == ["completed"] * len(deposits)

        for (payer, payee, source, target), bodies in zip(pairs, outcomes, strict=True):
            completed = [b for b in bodies if b["status"] == "completed"]
            failed = [b for b in bodies if b["status"] != "completed"]
            # What a customer sees agrees with the ledger: each completed payment moved its
            # 1.00 once, each failed one nothing, and no hold is left.
            account = (await payer.get(f"/v1/accounts/{source}")).json()
            assert account["held_minor"] == 0, (account, failed)
            assert await payer.balance(source) == 500_00 - 100 * len(completed), failed
            lines = (await payee.get(f"/v1/accounts/{target}/transactions", params={"limit": 200})).json()["items"]
            transfers_in = [line for line in lines if line.get("reference_kind") == "payment"]
            assert len(transfers_in) == len(completed), "every completed transfer posted exactly once"

            # Every fact reaches the gateway: one "money moved" notification per completed
            # transfer, also for those completed while the broker was going. The gateway
            # reads them after payments ends its sagas, later on a loaded machine.
            async def told(payer: Phone = payer, completed: list[dict] = completed) -> list[str] | None:
                notes = (await payer.get("/v1/notifications", params={"limit": 100})).json()["items"]
                ids = [n["data"]["payment_id"] for n in notes if n["kind"] == "payment_sent"]
                return ids if len(ids) >= len(completed) else None

            ids = await eventually(told, timeout_s=30, every_s=0.5)
            assert sorted(ids) == sorted(b["id"] for b in completed), "one notification per completed payment"
        check = (await gateway.get("/v1/admin/ledger/check", headers=operator)).json()
        assert check["ok"], check["violations"]
        assert check["active_holds"] == 0

        async def ready_again() -> bool | None:
            async with httpx.AsyncClient(timeout=3) as client:
                r = await client.get(f"{lossy_stack.url('payments')}/readyz")
            return True if r.status_code == 200 else None

        await eventually(ready_again, timeout_s=15, every_s=0.2)
        print(f"every saga ended {recovered_s:.1f}s after the broker came back")


async def test_a_process_killed_after_a_clock_jump_comes_back_on_the_moved_clock(lossy_stack: Stack) -> None:
    """Its sagas' deadlines are on the moved clock: back at real time, none would be due
    for as long as the clock had been moved."""
    async with client_of(lossy_stack) as gateway:
        operator = await operator_login(gateway)
        before = (await gateway.get("/v1/sandbox/clock", headers=operator)).json()["offset_s"]
        r = await gateway.post("/v1/sandbox/clock", json={"advance_s": 3 * 86400}, headers=operator)
        assert r.status_code == 200, r.text
        moved = r.json()["offset_s"]
        assert moved >= before + 3 * 86400
        for name in ("payments", "gateway"):
            await asyncio.to_thread(lossy_stack.kill, name)
            await asyncio.to_thread(lossy_stack.restart, name)
        token = Minter().service_token()
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(
                f"{lossy_stack.url('payments')}/internal/clock", headers={"authorization": f"Bearer {token}"}
            )
        assert r.status_code == 200, r.text
        assert r.json()["offset_s"] == moved
    async with client_of(lossy_stack) as gateway:
        operator = await operator_login(gateway)
        assert (await gateway.get("/v1/sandbox/clock", headers=operator)).json()["offset_s"] == moved
