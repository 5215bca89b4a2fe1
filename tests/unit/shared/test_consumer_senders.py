"""ConsumerLoop applies only what a rightful sender signed, whatever the consumer: here the
gateway's view of payments' facts, with a handler that records what it was given."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from shared.db import Database
from shared.events import Envelope, Message
from shared.events import payments as pay
from shared.events.topics import PAYMENTS_EVENTS, dlq
from shared.kafka import signing
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.messaging import messaging_tables
from shared.keys import Keyring

metadata = MetaData()
tables = messaging_tables(metadata)


def _keys(process: str) -> Keyring:
    return Keyring.load(os.environ["AUTH_KEYS_DIR"], process)


def _completed() -> pay.PaymentCompleted:
    return pay.PaymentCompleted(
        payment_id="p-1",
        customer_id="c-1",
        payee_customer_id="c-2",
        kind="transfer",
        amount_minor=100,
        currency="CNY",
        payer_account_id="a-1",
        payee_account_id="a-2",
        entry_id="e-1",
    )


def _record(message: Message, *, source: str, signed_by: str | None) -> Any:
    """A consumer record as aiokafka hands it over."""
    envelope = Envelope.wrap(message, source=source)
    key, value = envelope.subject.encode(), envelope.to_bytes()
    headers = [("type", envelope.type.encode())]
    if signed_by is not None:
        headers += signing.sign(_keys(signed_by), message.TOPIC, key, value)
    return SimpleNamespace(topic=message.TOPIC, key=key, value=value, headers=headers, offset=0, envelope=envelope)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await database.create_all(metadata)
    yield database
    await database.dispose()


async def test_only_the_owner_of_a_facts_topic_is_believed(db: Database) -> None:
    applied: list[str] = []

    async def notify(_state: Any, envelope: Envelope, _message: Any) -> None:
        applied.append(envelope.id)

    consumer = ConsumerLoop(
        name="gateway-notifications",
        db=db,
        tables=tables,
        bootstrap_servers="127.0.0.1:1",
        topics=[PAYMENTS_EVENTS],
        handlers={pay.PaymentCompleted.TYPE: notify},
        source="gateway",
        keys=_keys("gateway"),
    )
    rightful = _record(_completed(), source="payments", signed_by="payments")
    unsigned = _record(_completed(), source="payments", signed_by=None)
    impostor = _record(_completed(), source="securities", signed_by="securities")

    await consumer.apply([unsigned, rightful, impostor])

    assert applied == [rightful.envelope.id]
    async with db.read() as session:
        letters = (await session.execute(select(tables.dead_letter))).all()
        copies = (await session.execute(select(tables.outbox))).all()
    assert {(r.message_id, r.error) for r in letters} == {
        (unsigned.envelope.id, "untrusted-sender: no signature"),
        (
            impostor.envelope.id,
            "untrusted-sender: securities may not send payments.PaymentCompleted (its senders: payments)",
        ),
    }
    assert {r.topic for r in copies} == {dlq(PAYMENTS_EVENTS)}
    assert (consumer.applied, consumer.dead_lettered, consumer.untrusted) == (1, 2, 2)
    async with db.read() as session:
        inbox = (await session.execute(select(tables.inbox.c.message_id))).scalars().all()
    assert inbox == [rightful.envelope.id], "a refused message's id must not look applied"
