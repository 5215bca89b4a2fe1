"""Two replicas of accounts and payments on one PostgreSQL database (ADR 0018), one of
each killed mid-load: every payment ends, no ledger entry is written twice, the ledger
balances and each account's balance is what its completed payments say.

Runs when SANDBANK_TEST_PG_URL names a PostgreSQL database (CI sets it: .ci/run)."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from shared.auth import ROLE_OPERATOR, TokenIssuer
from shared.db import Database
from shared.keys import Keyring
from shared.settings import AuthSettings
from tests.e2e.conftest import operator_login, running_stack
from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import BACKEND_SERVICES, Stack, StackError

PG_URL = os.environ.get("SANDBANK_TEST_PG_URL")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not PG_URL, reason="SANDBANK_TEST_PG_URL is not set (CI sets it: .ci/run)"),
    # Well under a minute each on an idle machine; a loaded one (other suites beside it) may
    # take four times that, the stack's start included.
    pytest.mark.timeout(400),
]

CUSTOMERS = 8
FUNDS_MINOR = 1000_00
TRANSFERS = 240
CONCURRENCY = 8


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"r{uuid.uuid4().hex[:8]}_"
    try:
        # Seven processes migrating one PostgreSQL at once: slower to start than SQLite files.
        with running_stack(
            tmp_path_factory, "replicas", start_timeout_s=120, replicas=2, db_url=PG_URL, db_schema_prefix=prefix
        ) as stack:
            yield stack
    finally:
        asyncio.run(_drop_schemas(prefix))


async def _drop_schemas(prefix: str) -> None:
    db = Database(str(PG_URL))
    try:
        async with db.writer.begin() as conn:
            for service in ("gateway", *BACKEND_SERVICES):
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {prefix}{service} CASCADE"))
    finally:
        await db.dispose()


@pytest.fixture
async def gateway(replicated: Stack) -> AsyncIterator[httpx.AsyncClient]:
    # Roomier than client_of's: eight registrations at once wait on password hashing.
    async with httpx.AsyncClient(base_url=replicated.gateway_url, timeout=30) as client:
        yield client


async def _customer(gateway: httpx.AsyncClient) -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(gateway)
    account = await phone.open_account()
    await phone.settled((await phone.deposit(account["id"], f"{FUNDS_MINOR / 100:.2f}"))["id"])
    return phone, account


async def _entries_per_payment(stack: Stack, payment_ids: list[str]) -> dict[str, int]:
    """Journal entries accounts wrote for each payment (its capture's reference)."""
    db = Database(str(PG_URL), schema=stack.schema_of("accounts"))
    try:
        async with db.read() as session:
            rows = await session.execute(
                text("SELECT reference, count(*) FROM journal_entry WHERE reference = ANY(:ids) GROUP BY reference"),
                {"ids": payment_ids},
            )
            return {reference: int(count) for reference, count in rows.all()}
    finally:
        await db.dispose()


async def as_operator(stack: Stack, replica: str, path: str) -> httpx.Response:
    """GET `path` from one replica with an operator's token for its service, vouched for by
    the gateway's key."""
    service = stack.processes[replica].service
    issuer = TokenIssuer(Keyring.load(str(stack.keys_dir), "gateway"), AuthSettings())
    token = issuer.issue("test-operator", [ROLE_OPERATOR], audience=service, ttl_s=300)
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{stack.url(replica)}{path}", headers={"authorization": f"Bearer {token}"})


async def applied(stack: Stack, replica: str) -> float:
    """Messages a replica's consumers applied so far (its /metrics)."""
    r = await as_operator(stack, replica, "/metrics")
    assert r.status_code == 200, r.text
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    return sum(s.value for s in families["sandbank_consumer_applied"].samples if s.name.endswith("_total"))


async def clock_offset(stack: Stack, replica: str) -> float:
    """How far ahead of real time a replica's sandbox clock runs (its /internal/clock)."""
    r = await as_operator(stack, replica, "/internal/clock")
    assert r.status_code == 200, r.text
    return float(r.json()["offset_s"])


async def test_a_reset_brings_every_replicas_clock_back_to_real_time(
    replicated: Stack, gateway: httpx.AsyncClient
) -> None:
    names = ["accounts-1", "accounts-2", "payments-1", "payments-2"]
    for name in names:  # the kill test may have run first
        if not replicated.processes[name].running():
            await asyncio.to_thread(replicated.restart, name, 120)
    operator = await operator_login(gateway)
    moved = await gateway.post("/v1/sandbox/clock", json={"advance_s": 3600}, headers=operator)
    assert moved.status_code == 200, moved.text
    assert [await clock_offset(replicated, n) >= 3600 for n in names] == [True] * 4
    await asyncio.to_thread(replicated.kill, "accounts-2")  # down during the reset
    try:
        reset = await gateway.post("/v1/sandbox/reset", headers=operator)

        assert reset.status_code == 200, reset.text
        # Each replica keeps its clock in memory: a reset that reached one would leave the
        # others an hour ahead, disagreeing on every date (limits, settlement, schedules).
        assert [await clock_offset(replicated, n) for n in names if n != "accounts-2"] == [0.0] * 3
    finally:
        await asyncio.to_thread(replicated.restart, "accounts-2", 120)
    # The replica that was down reads the clock, reset, from the database when it starts.
    assert await clock_offset(replicated, "accounts-2") == 0.0


def test_replicas_on_sqlite_are_refused(tmp_path: Any) -> None:
    with pytest.raises(StackError, match="need PostgreSQL"):
        Stack(tmp_path, gateway_port=0, replicas=2)


async def test_each_replica_is_ready_and_has_a_port_of_its_own(replicated: Stack) -> None:
    names = {"accounts-1", "accounts-2", "payments-1", "payments-2"}
    assert names <= set(replicated.processes)
    assert len({replicated.ports[n] for n in names}) == 4
    async with httpx.AsyncClient(timeout=5) as client:
        for name in names:
            assert (await client.get(f"{replicated.url(name)}/readyz")).status_code == 200


async def test_killing_a_replica_of_each_mid_load_loses_and_repeats_nothing(
    replicated: Stack, gateway: httpx.AsyncClient
) -> None:
    bank = list(await asyncio.gather(*(_customer(gateway) for _ in range(CUSTOMERS))))
    rng = random.Random(20261201)
    plan = [(*rng.sample(range(CUSTOMERS), 2), rng.randint(100, 5_000), str(uuid.uuid4())) for _ in range(TRANSFERS)]
    accepted: dict[str, tuple[int, int, int]] = {}
    sent = 0

    async def send(a: int, b: int, amount_minor: int, key: str) -> None:
        phone, account = bank[a]

        # A phone sends again with the same Idempotency-Key while a replica is going away.
        async def attempt() -> httpx.Response | None:
            r = await phone.post(
                "/v1/payments/transfers",
                json={
                    "payer_account_id": account["id"],
                    "payee_account_id": bank[b][1]["id"],
                    "amount": f"{amount_minor / 100:.2f}",
                },
                headers={"Idempotency-Key": key},
            )
            return r if r.status_code == 202 else None

        r = await eventually(attempt, timeout_s=30, every_s=0.1)
        accepted[r.json()["id"]] = (a, b, amount_minor)

    async def client(queue: asyncio.Queue[tuple[int, int, int, str]]) -> None:
        nonlocal sent
        while not queue.empty():
            await send(*queue.get_nowait())
            sent += 1

    queue: asyncio.Queue[tuple[int, int, int, str]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    load = asyncio.gather(*(client(queue) for _ in range(CONCURRENCY)))
    await eventually(lambda: asyncio.sleep(0, sent >= TRANSFERS // 3), timeout_s=90, every_s=0.05)
    # The group shares the partitions: every replica has applied messages of its own.
    for replica in ("accounts-1", "accounts-2", "payments-1", "payments-2"):
        assert await applied(replicated, replica) > 0, replica
    await asyncio.to_thread(replicated.kill, "payments-2")
    await asyncio.to_thread(replicated.kill, "accounts-2")
    await load
    assert len(accepted) == TRANSFERS

    outcomes: dict[str, dict[str, Any]] = {}
    lanes = asyncio.Semaphore(CONCURRENCY)

    async def look(payment_id: str) -> None:
        async with lanes:
            body = (await bank[accepted[payment_id][0]][0].get(f"/v1/payments/{payment_id}")).json()
        if body["status"] != "pending":
            outcomes[payment_id] = body

    async def all_terminal() -> bool:
        await asyncio.gather(*(look(pid) for pid in accepted if pid not in outcomes))
        return len(outcomes) == len(accepted)

    await eventually(all_terminal, timeout_s=60, every_s=0.5)
    completed = [pid for pid, o in outcomes.items() if o["status"] == "completed"]
    assert len(completed) > TRANSFERS // 2, {o.get("reason") for o in outcomes.values()}

    entries = await _entries_per_payment(replicated, list(accepted))
    assert {pid for pid, n in entries.items() if n > 1} == set(), "a payment was captured twice"
    assert set(entries) == set(completed)

    expected = {i: FUNDS_MINOR for i in range(CUSTOMERS)}
    for pid in completed:
        a, b, amount_minor = accepted[pid]
        expected[a] -= amount_minor
        expected[b] += amount_minor
    for i, (phone, account) in enumerate(bank):
        body = (await phone.get(f"/v1/accounts/{account['id']}")).json()
        assert (body["balance_minor"], body["held_minor"]) == (expected[i], 0), account["id"]

    operator = await operator_login(gateway)
    r = await gateway.get("/v1/admin/ledger/check", headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["ok"], r.json()["violations"]
