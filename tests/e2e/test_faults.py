"""Sandbox fault injection: duplicated messages are applied once; dropped replies are
re-sent by the sagas. The ledger balances either way."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.e2e.phone import eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def fault(gateway: httpx.AsyncClient, operator_headers: dict[str, str], **spec: object) -> dict:
    r = await gateway.post("/v1/sandbox/faults", json=spec, headers=operator_headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_duplicated_messages_during_100_transfers_apply_each_once(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer = await register_and_login(gateway)
    payee = await register_and_login(gateway)
    source, target = await payer.open_account(), await payee.open_account()
    await payer.settled((await payer.deposit(source["id"], "5000.00"))["id"])
    for service in ("accounts", "payments"):
        state = await fault(gateway, operator_headers, service=service, mode="duplicate", duration_s=60)
        assert state["mode"] == "duplicate"
    try:
        ids = []
        for chunk in range(10):
            answers = await asyncio.gather(
                *(
                    payer.post(
                        "/v1/payments/transfers",
                        json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "1.00"},
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    for _ in range(10)
                )
            )
            assert all(a.status_code == 202 for a in answers), [a.text for a in answers if a.status_code != 202]
            ids += [a.json()["id"] for a in answers]
            if chunk == 0:
                assert payer.customer_id  # keep the velocity rule (20 a minute) out of the way:
        # ... by paying from several customers would be closer to life; one payer keeps the sums plain.

        async def all_done() -> list[dict] | None:
            bodies = [(await payer.get(f"/v1/payments/{i}")).json() for i in ids]
            return bodies if all(b["status"] != "pending" for b in bodies) else None

        outcomes = await eventually(all_done, timeout_s=60, every_s=0.25)
    finally:
        for service in ("accounts", "payments"):
            await fault(gateway, operator_headers, service=service, mode="none")
    completed = [o for o in outcomes if o["status"] == "completed"]
    failed = [o for o in outcomes if o["status"] == "failed"]
    assert {o["reason"] for o in failed} <= {"risk_rejected"}  # velocity: more than 20 a minute
    assert len(completed) + len(failed) == 100
    assert await payer.balance(source["id"]) == 5000_00 - 100 * len(completed)
    assert await payee.balance(target["id"]) == 100 * len(completed)
    statement = (await payee.get(f"/v1/accounts/{target['id']}/transactions", params={"limit": 200})).json()
    assert len(statement["items"]) == len(completed), "every transfer posted exactly once"
    counters = await fault(gateway, operator_headers, service="accounts", mode="none")
    assert counters["duplicated"] > 0, "the fault really duplicated messages"


async def test_dropped_replies_are_recovered_by_saga_retries(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    payer = await register_and_login(gateway)
    payee = await register_and_login(gateway)
    source, target = await payer.open_account(), await payee.open_account()
    await payer.settled((await payer.deposit(source["id"], "100.00"))["id"])
    await fault(gateway, operator_headers, service="accounts", mode="drop", duration_s=2)
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "7.00"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202

    async def done() -> dict | None:
        body = (await payer.get(f"/v1/payments/{r.json()['id']}")).json()
        return body if body["status"] != "pending" else None

    outcome = await eventually(done, timeout_s=45, every_s=0.25)
    assert outcome["status"] == "completed"
    assert await payee.balance(target["id"]) == 7_00


@pytest.mark.parametrize(
    ("service", "mode"),
    [("payments", "drop"), ("accounts", "drop"), ("payments", "duplicate"), ("accounts", "duplicate")],
    ids=["credit dropped", "reply dropped", "credit duplicated", "reply duplicated"],
)
async def test_a_deposit_survives_a_dropped_or_duplicated_message(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], service: str, mode: str
) -> None:
    """A deposit is a saga of payments: its credit, or accounts' answer, lost or sent twice,
    still credits the account exactly once."""
    customer = await register_and_login(gateway)
    account = await customer.open_account()
    await fault(gateway, operator_headers, service=service, mode=mode, duration_s=2)
    try:
        deposit = await customer.deposit(account["id"], "25.00")

        async def done() -> dict | None:
            body = (await customer.get(f"/v1/sandbox/deposits/{deposit['id']}")).json()
            return body if body["status"] != "pending" else None

        outcome = await eventually(done, timeout_s=45, every_s=0.25)
    finally:
        await fault(gateway, operator_headers, service=service, mode="none")
    assert outcome["status"] == "completed", outcome
    assert await customer.balance(account["id"]) == 25_00
    statement = (await customer.get(f"/v1/accounts/{account['id']}/transactions")).json()
    assert len(statement["items"]) == 1, "credited exactly once"


async def test_a_payment_given_up_while_accounts_had_paid_it_completes_once(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    """The give-up race across the services (ADR 0021): accounts holds and captures the
    money at the first command, but every answer it sends is lost. Payments re-sends the
    payment until it gives up and asks for the hold back; accounts answers that release
    with the capture it made, and once its answers get through again the payment
    completes: the money moved once, and the customer is told it was paid, not failed."""
    payer = await register_and_login(gateway)
    payee = await register_and_login(gateway)
    source, target = await payer.open_account(), await payee.open_account()
    await payer.settled((await payer.deposit(source["id"], "100.00"))["id"])
    await fault(gateway, operator_headers, service="accounts", mode="drop", duration_s=120)
    try:
        r = await payer.post(
            "/v1/payments/transfers",
            json={"payer_account_id": source["id"], "payee_account_id": target["id"], "amount": "7.00"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 202, r.text
        payment_id = r.json()["id"]

        async def stage() -> str:
            body = (await payer.get(f"/v1/payments/{payment_id}")).json()
            assert body["status"] == "pending", body  # nothing accounts says gets through
            return str(body["stage"])

        # Each deadline passed on the sandbox clock re-sends the payment, and the last gives
        # it up: the sweeper looks once a second.
        for _ in range(20):
            if await stage() == "releasing":
                break
            advanced = await gateway.post("/v1/sandbox/clock", json={"advance_s": 60}, headers=operator_headers)
            assert advanced.status_code == 200, advanced.text
            await asyncio.sleep(1.5)
        assert await stage() == "releasing", "payments never gave the payment up"
        assert await payee.balance(target["id"]) == 7_00, "accounts paid it at the first command"
    finally:
        dropped = await fault(gateway, operator_headers, service="accounts", mode="none")
    assert dropped["dropped"] > 0, "the fault really dropped accounts' answers"

    async def ended() -> dict | None:
        await gateway.post("/v1/sandbox/clock", json={"advance_s": 60}, headers=operator_headers)
        body = (await payer.get(f"/v1/payments/{payment_id}")).json()
        return body if body["status"] != "pending" else None

    outcome = await eventually(ended, timeout_s=30, every_s=1.5)
    assert outcome["status"] == "completed", outcome
    assert outcome.get("reason") is None, outcome  # not "timed_out": it was paid
    assert await payer.balance(source["id"]) == 93_00
    assert await payee.balance(target["id"]) == 7_00
    for phone, account in ((payer, source), (payee, target)):
        lines = (await phone.get(f"/v1/accounts/{account['id']}/transactions")).json()["items"]
        assert [line["amount_minor"] for line in lines if line["amount_minor"] in (-7_00, 7_00)] == [
            -7_00 if phone is payer else 7_00
        ], lines
