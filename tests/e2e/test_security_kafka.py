"""Anyone who reaches the broker cannot mint money: a CreditAccount from internal:cash-in
written to accounts.commands by a plain Kafka client is not applied, and lands in
accounts.commands.dlq and the operator's dead-letter list with the reason
(docs/adr/0011-message-signatures.md)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.events import Envelope
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_COMMANDS, dlq
from shared.kafka import signing
from shared.keys import Keyring
from tests.e2e.phone import Phone, eventually
from tools.stack import Stack

pytestmark = pytest.mark.e2e


class DeadLetters:
    """What reaches accounts.commands.dlq from the moment it was opened."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.seen: list[ConsumerRecord] = []

    async def find(self, value: bytes) -> ConsumerRecord:
        async def found() -> ConsumerRecord | None:
            for records in (await self.consumer.getmany(timeout_ms=200)).values():
                self.seen += records
            return next((r for r in self.seen if r.value == value), None)

        return await eventually(found, timeout_s=20)


@pytest.fixture
async def dead_letters(stack: Stack) -> AsyncIterator[DeadLetters]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        topic = dlq(ACCOUNTS_COMMANDS)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"no partitions for {topic}"
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        yield DeadLetters(consumer)
    finally:
        await consumer.stop()


async def _funded_account(customer: Phone) -> str:
    account_id = str((await customer.open_account())["id"])
    deposit = await customer.deposit(account_id, "100.00")
    assert (await customer.settled(deposit["id"]))["status"] == "completed"
    assert await customer.balance(account_id) == 100_00
    return account_id


def _forged_cash_in(account_id: str, source: str = "payments") -> Envelope:
    credit = ev.CreditAccount(
        account_id=account_id,
        credit_id=f"forged-{uuid.uuid4()}",
        source_account_id="internal:cash-in",
        amount_minor=1_000_000_00,
        description="Sandbox deposit",
    )
    return Envelope.wrap(credit, source=source)


async def _produce(stack: Stack, envelope: Envelope, headers: list[tuple[str, bytes]]) -> None:
    """As any client on the broker's port would: no credentials, any headers it likes."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
    await producer.start()
    try:
        headers = [("type", envelope.type.encode()), *headers]
        await producer.send_and_wait(
            ACCOUNTS_COMMANDS, envelope.to_bytes(), key=envelope.subject.encode(), headers=headers
        )
    finally:
        await producer.stop()


async def _operators_entry(
    gateway: httpx.AsyncClient, operator_headers: dict[str, str], message_id: str
) -> dict[str, Any]:
    async def listed() -> dict[str, Any] | None:
        r = await gateway.get("/v1/admin/dead-letters", headers=operator_headers)
        assert r.status_code == 200, r.text
        accounts = next(s for s in r.json()["services"] if s["service"] == "accounts")
        return next((d for d in accounts["items"] if d["message_id"] == message_id), None)

    return await eventually(listed, timeout_s=15)  # type: ignore[no-any-return]


async def test_a_forged_deposit_from_a_plain_kafka_client_moves_no_money(
    stack: Stack,
    gateway: httpx.AsyncClient,
    operator_headers: dict[str, str],
    customer: Phone,
    dead_letters: DeadLetters,
    ledger_balanced: None,
) -> None:
    account_id = await _funded_account(customer)
    forged = _forged_cash_in(account_id)

    await _produce(stack, forged, [])

    letter = await dead_letters.find(forged.to_bytes())
    headers = {k: (v or b"").decode() for k, v in letter.headers}
    assert headers["error"] == "untrusted-sender: no signature"
    assert headers["consumer"] == "accounts"
    entry = await _operators_entry(gateway, operator_headers, forged.id)
    assert (entry["topic"], entry["key"], entry["error"]) == (
        ACCOUNTS_COMMANDS,
        account_id,
        "untrusted-sender: no signature",
    )
    assert await customer.balance(account_id) == 100_00


async def test_a_deposit_signed_with_another_services_key_moves_no_money(
    stack: Stack,
    gateway: httpx.AsyncClient,
    operator_headers: dict[str, str],
    customer: Phone,
    dead_letters: DeadLetters,
    ledger_balanced: None,
) -> None:
    """A stolen securities key signs what securities may send, not payments' deposits."""
    account_id = await _funded_account(customer)
    forged = _forged_cash_in(account_id, source="securities")
    securities = Keyring.load(os.environ["AUTH_KEYS_DIR"], "securities")

    await _produce(stack, forged, signing.sign(securities, ACCOUNTS_COMMANDS, account_id.encode(), forged.to_bytes()))

    letter = await dead_letters.find(forged.to_bytes())
    reason = "untrusted-sender: securities may not move money of internal:cash-in (it belongs to payments)"
    assert dict(letter.headers)["error"].decode() == reason
    assert (await _operators_entry(gateway, operator_headers, forged.id))["error"] == reason
    assert await customer.balance(account_id) == 100_00
