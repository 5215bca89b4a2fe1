"""A poison message lands in `<topic>.dlq`, an operator sees it and can replay it."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kafka import signing
from shared.keys import Keyring
from tests.e2e.phone import eventually
from tools.stack import Stack

pytestmark = pytest.mark.e2e


async def test_poison_command_is_listed_and_replayable(
    stack: Stack, gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    """Sent by payments (signed with its key): replayed, it still proves its sender."""
    marker = f"poison-{uuid.uuid4()}"
    value, key = f"not json {marker}".encode(), marker.encode()
    payments = Keyring.load(os.environ["AUTH_KEYS_DIR"], "payments")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
    await producer.start()
    try:
        headers = signing.sign(payments, "accounts.commands", key, value)
        await producer.send_and_wait("accounts.commands", value, key=key, headers=headers)
    finally:
        await producer.stop()

    async def listed() -> dict | None:
        r = await gateway.get("/v1/admin/dead-letters", headers=operator_headers)
        assert r.status_code == 200, r.text
        accounts = next(s for s in r.json()["services"] if s["service"] == "accounts")
        return next((d for d in accounts["items"] if d["key"] == marker), None)

    letter = await eventually(listed, timeout_s=15)
    assert letter["topic"] == "accounts.commands"
    assert "undecodable" in letter["error"]

    r = await gateway.post(f"/v1/admin/dead-letters/accounts/{letter['id']}/replay", headers=operator_headers)
    assert r.status_code == 200, r.text
    assert r.json()["replayed_at"]

    async def dead_again() -> bool:
        r = await gateway.get("/v1/admin/dead-letters", headers=operator_headers)
        accounts = next(s for s in r.json()["services"] if s["service"] == "accounts")
        return sum(d["key"] == marker for d in accounts["items"]) == 2

    assert await eventually(dead_again, timeout_s=15), "the replayed message reached its consumer again"


async def test_customers_cannot_see_dead_letters(gateway: httpx.AsyncClient, customer) -> None:  # type: ignore[no-untyped-def]
    assert (await customer.get("/v1/admin/dead-letters")).status_code == 403
