"""A phone's first day at Sandbank, through the gateway of a running stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import Stack

KCAT = Path(__file__).resolve().parents[2] / "scripts" / "kcat"

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]


async def test_register_login_open_deposit_and_read_statement(gateway: httpx.AsyncClient) -> None:
    phone = await register_and_login(gateway, name="Zhang San")

    me = (await phone.get("/v1/me")).json()
    assert me["id"] == phone.customer_id
    assert me["kyc_class"] == "II"
    assert me["roles"] == ["customer"]

    account = await phone.open_account("checking")
    assert account["balance"] == "0.00"

    deposit = await phone.deposit(account["id"], "250.75")
    assert deposit["status"] == "pending"
    assert (await phone.settled(deposit["id"]))["status"] == "completed"

    listed = (await phone.get("/v1/accounts")).json()["items"]
    assert [a["id"] for a in listed] == [account["id"]]
    assert listed[0]["balance"] == "250.75"
    assert listed[0]["available"] == "250.75"

    statement = (await phone.get(f"/v1/accounts/{account['id']}/transactions")).json()
    assert len(statement["items"]) == 1
    line = statement["items"][0]
    assert (line["direction"], line["amount"], line["balance_after"]) == ("credit", "250.75", "250.75")
    assert line["counterparty_account_id"] == "internal:cash-in"


async def test_statement_pages_newest_first_without_gaps(customer: Phone) -> None:
    account = await customer.open_account("savings")
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        await customer.settled((await customer.deposit(account["id"], amount))["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await customer.get(f"/v1/accounts/{account['id']}/transactions", params=params)).json()
        seen += [item["amount"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["5.00", "4.00", "3.00", "2.00", "1.00"]


async def test_deposit_retried_with_same_key_is_applied_once(customer: Phone) -> None:
    account = await customer.open_account()
    key = str(uuid.uuid4())
    first = await customer.deposit(account["id"], "10.00", key=key)
    replay = await customer.post(
        "/v1/sandbox/deposits",
        json={"account_id": account["id"], "amount": "10.00", "currency": "CNY"},
        headers={"Idempotency-Key": key},
    )
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first["id"]
    await customer.settled(first["id"])
    assert await customer.balance(account["id"]) == 1000

    other_body = await customer.post(
        "/v1/sandbox/deposits",
        json={"account_id": account["id"], "amount": "11.00", "currency": "CNY"},
        headers={"Idempotency-Key": key},
    )
    assert other_body.status_code == 422
    assert other_body.json()["type"].endswith("/idempotency-key-reused")
    assert await customer.balance(account["id"]) == 1000


async def test_kcat_reads_the_deposit_envelope_from_accounts_events(stack: Stack, customer: Phone) -> None:
    """The events are real Kafka messages: a Kafka client nobody here wrote reads them."""
    if shutil.which("kcat") is None:
        if os.environ.get("CI"):
            pytest.fail("kcat is not installed; .ci/run installs it")
        pytest.skip("kcat is not installed (apt-get install kcat)")
    account = await customer.open_account()
    deposit = await customer.deposit(account["id"], "42.00")
    await customer.settled(deposit["id"])

    def credited_envelope() -> dict | None:
        done = subprocess.run(
            [
                str(KCAT),
                "-b",
                stack.bootstrap_servers,
                "-t",
                "accounts.events",
                "-C",
                "-o",
                "beginning",
                "-e",
                "-q",
                "-f",
                "%k\t%s\n",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        out = done.stdout.decode()
        for row in out.splitlines():
            key, _, value = row.partition("\t")
            envelope = orjson.loads(value)
            if envelope["type"] == "accounts.AccountCredited" and envelope["data"]["credit_id"] == deposit["id"]:
                assert key == account["id"], "accounts.events are keyed by account id"
                return envelope
        return None

    envelope = await eventually(lambda: _to_thread(credited_envelope))
    assert envelope["source"] == "accounts"
    assert envelope["subject"] == account["id"]
    assert envelope["data"]["amount_minor"] == 4200
    assert envelope["causation_id"] and envelope["correlation_id"]
    assert {"id", "type", "version", "time"} <= envelope.keys()


async def _to_thread(fn):  # type: ignore[no-untyped-def]
    import asyncio

    return await asyncio.to_thread(fn)


async def test_every_process_answers_health_and_readiness(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for name in stack.processes:
            assert (await client.get(f"{stack.url(name)}/healthz")).json()["status"] == "ok"
            ready = await client.get(f"{stack.url(name)}/readyz")
            assert ready.status_code == 200, (name, ready.text)


async def test_openapi_documents_the_phone_endpoints(gateway: httpx.AsyncClient) -> None:
    paths = (await gateway.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/auth/registrations",
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/accounts",
        "/v1/accounts/{account_id}",
        "/v1/accounts/{account_id}/transactions",
        "/v1/sandbox/deposits",
        "/v1/sandbox/inbox",
        "/v1/admin/ledger/check",
    ):
        assert path in paths, path
