"""What the tests of the Kafka parts share (the consumer loop, the doorbell, the producer,
the relay, the broker watch; tests/integration/test_broker_*.py, test_consumer_*.py):
the messaging tables on a SQLite file of the test's own, the stack's signing keys, a
payment's completion numbered n and a way to send a run of them, a wait for a condition,
and the loop most of them drive: the gateway's notifications on payments' events."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from shared.db import Database
from shared.events import Envelope
from shared.events import payments as pay
from shared.events.topics import PAYMENTS_EVENTS
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.doorbell import Doorbell
from shared.kafka.messaging import messaging_tables
from shared.kafka.producer import Producer
from shared.keys import Keyring

metadata = MetaData()
tables = messaging_tables(metadata)


@asynccontextmanager
async def messaging_db(path: Path) -> AsyncIterator[Database]:
    """A SQLite database at `path` with the messaging tables (outbox, inbox, dead letters)."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.create_all(metadata)
    try:
        yield database
    finally:
        await database.dispose()


def keys(service: str) -> Keyring:
    """`service`'s keys from the stack's key directory (the test run makes it)."""
    return Keyring.load(os.environ["AUTH_KEYS_DIR"], service)


def completed(n: int) -> pay.PaymentCompleted:
    """Payment `p-n` completed: the message the notifications loop applies."""
    return pay.PaymentCompleted(
        payment_id=f"p-{n}",
        customer_id="c-1",
        payee_customer_id="c-2",
        kind="transfer",
        amount_minor=100,
        currency="CNY",
        payer_account_id="a-1",
        payee_account_id="a-2",
        entry_id=f"e-{n}",
    )


async def send_completed(producer: Producer, numbers: Iterable[int]) -> None:
    """`completed(n)` for each of `numbers` to payments' events, signed by payments, in one send."""
    batch = []
    for n in numbers:
        envelope = Envelope.wrap(completed(n), source="payments")
        batch.append((PAYMENTS_EVENTS, "k", envelope.to_bytes(), [("type", envelope.type.encode())]))
    await producer.send_many(batch)


async def until(probe: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Until `probe()` is true; fails the test after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def notifications_loop(db: Database, bootstrap_servers: str, applied: list[str], **overrides: Any) -> ConsumerLoop:
    """The gateway's notifications loop on payments' events, noting the id of each payment
    it applies in `applied`; `overrides` are ConsumerLoop's arguments a test sets."""

    async def record(_state: Any, _envelope: Envelope, message: Any) -> None:
        applied.append(message.payment_id)

    arguments: dict[str, Any] = {
        "name": "gateway-notifications",
        "db": db,
        "tables": tables,
        "bootstrap_servers": bootstrap_servers,
        "topics": [PAYMENTS_EVENTS],
        "handlers": {pay.PaymentCompleted.TYPE: record},
        "source": "gateway",
        "keys": keys("gateway"),
    }
    return ConsumerLoop(**(arguments | overrides))


def payments_producer(bootstrap_servers: str, doorbell: Doorbell | None = None) -> Producer:
    """A producer signing as payments, ringing `doorbell` after each acknowledged send."""
    return Producer(bootstrap_servers, client_id="payments", keys=keys("payments"), doorbell=doorbell)


async def supervised(loop: ConsumerLoop, crashes: list[BaseException]) -> None:
    """Run `loop` as the runtime does (shared/runtime.py `_supervise`): again after it
    raises, a moment later, each error noted in `crashes`."""
    while True:
        try:
            await loop.run()
            return
        except Exception as exc:
            crashes.append(exc)
            await asyncio.sleep(0.1)
