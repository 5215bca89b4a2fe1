"""A loop on no request's path (accounts' AML monitoring, carried by the ledger's group
member) gathers the records of several fetches and applies them in one transaction: once
it holds `max_batch`, or once the first has waited `gather_s` (the stack quiet or not).
Its offsets are committed only after they are applied, so a member renewed meanwhile reads
them again and nothing gathered is lost. Real broker, real UDP doorbell, real SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from shared.db import Database
from shared.events import Envelope
from shared.events import accounts as acc
from shared.events.topics import ACCOUNTS_EVENTS, PAYMENTS_EVENTS
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.doorbell import Doorbell
from shared.kafka.producer import Producer, ensure_topics
from tests.integration.kafka_parts import keys, messaging_db, notifications_loop, tables, until
from tests.integration.test_consumer_doorbell import running
from tools.broker import EmbeddedBroker

pytestmark = pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="starts its own broker")


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here: the integration tier's ledger check has nothing to check."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with messaging_db(tmp_path / "gathering.db") as database:
        yield database


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as started:
        yield started


class Pair:
    """A carrier (the gateway's notifications loop on payments' events) and a loop it
    carries on accounts' events that gathers: the shape of accounts' ledger and AML."""

    def __init__(self, db: Database, broker: EmbeddedBroker, bell: Doorbell, *, gather_s: float, max_batch: int):
        self.holds: list[str] = []
        self.transactions: list[int] = []  # the size of each batch the gathering loop applied

        async def hold(_state: Any, _envelope: Envelope, message: Any) -> None:
            self.holds.append(message.hold_id)

        self.carrier = notifications_loop(db, broker.bootstrap_servers, [], doorbell=bell)
        self.gathering = ConsumerLoop(
            name="gateway-holds",
            db=db,
            tables=tables,
            bootstrap_servers=broker.bootstrap_servers,
            topics=[ACCOUNTS_EVENTS],
            handlers={acc.HoldReleased.TYPE: hold},
            source="gateway",
            keys=keys("gateway"),
            doorbell=bell,
            carrier=self.carrier,
            gather_s=gather_s,
            max_batch=max_batch,
        )
        self.gathering.observe_batch = self.transactions.append
        self.accounts = Producer(broker.bootstrap_servers, client_id="accounts", keys=keys("accounts"), doorbell=bell)
        self.sent = 0

    async def send(self) -> None:
        """One HoldReleased, and until the carrier has fetched it (its own look)."""
        self.sent += 1
        released = Envelope.wrap(
            acc.HoldReleased(account_id="a-1", hold_id=f"h-{self.sent}", amount_minor=1), source="accounts"
        )
        await self.accounts.send_many(
            [(ACCOUNTS_EVENTS, "a-1", released.to_bytes(), [("type", released.type.encode())])]
        )
        await eventually(lambda: self.fetched(self.sent))

    async def fetched(self, n: int) -> bool:
        """Whether the member's position on accounts' events is past `n` records."""
        kafka = self.carrier.consumer
        if kafka is None:
            return False
        held = [tp for tp in kafka.assignment() if tp.topic == ACCOUNTS_EVENTS]
        return bool(held) and sum([await kafka.position(tp) for tp in held]) == n

    async def committed_lag(self) -> int:
        return sum((await self.gathering.partition_lag()).values())


async def eventually(probe: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await probe():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def pair(
    db: Database, broker: EmbeddedBroker, tmp_path: Path, *, gather_s: float, max_batch: int = 500
) -> AsyncIterator[Pair]:
    bell = Doorbell(tmp_path / "bells")
    await bell.open()
    p = Pair(db, broker, bell, gather_s=gather_s, max_batch=max_batch)
    try:
        await ensure_topics(broker.bootstrap_servers, [PAYMENTS_EVENTS, ACCOUNTS_EVENTS], partitions=1)
        await p.accounts.start()
        await p.gathering.start()
        async with running(p.carrier):
            kafka = p.carrier.consumer
            assert kafka is not None
            await until(lambda: len(kafka.assignment()) == 2)
            yield p
    finally:
        await p.gathering.stop()
        await p.accounts.stop()
        bell.close()


async def test_the_records_of_several_fetches_are_applied_in_one_transaction_and_committed_after(
    db: Database, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    async with pair(db, broker, tmp_path, gather_s=600.0, max_batch=5) as p:
        for _ in range(4):
            await p.send()  # four fetches, each of one record
        # Read, not applied: nothing handled, nothing committed, and the lag says so.
        assert p.holds == [] and p.transactions == []
        assert await p.committed_lag() == 4
        assert await p.gathering.lag() == 4
        await p.send()  # the fifth fills the batch
        await until(lambda: len(p.holds) == 5)
        assert p.transactions == [5] and p.gathering.applied == 5
        assert p.holds == [f"h-{n}" for n in range(1, 6)]

        async def committed() -> bool:
            return await p.committed_lag() == 0

        await eventually(committed)  # within the carrier's commit interval, once quiet


async def test_what_was_gathered_is_applied_once_the_first_has_waited_while_the_stack_is_quiet(
    db: Database, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    async with pair(db, broker, tmp_path, gather_s=0.5) as p:
        await p.send()
        await p.send()
        # No ring comes after the second: the member's rest itself applies them when due.
        await until(lambda: len(p.holds) == 2, timeout_s=10)
        assert p.transactions == [2]


async def test_a_member_renewed_while_it_held_gathered_records_reads_them_again(
    db: Database, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    async with pair(db, broker, tmp_path, gather_s=600.0, max_batch=3) as p:
        await p.send()
        await p.send()
        assert p.holds == [] and await p.committed_lag() == 2
        await p.carrier.renew()  # a new client, from the committed offsets: before both
        await p.send()  # a third: the new member reads all three, which fill the batch
        await until(lambda: len(p.holds) == 3)
        assert p.holds == ["h-1", "h-2", "h-3"] and p.transactions == [3]


async def test_a_sandbox_reset_forgets_what_was_gathered_as_done(
    db: Database, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A reset empties the tables the gathered facts were for: they are dropped, and their
    offsets committed with the next, so no restart applies them to the new tables."""
    async with pair(db, broker, tmp_path, gather_s=600.0, max_batch=2) as p:

        async def committed() -> bool:
            return await p.committed_lag() == 0

        await p.send()
        await p.send()
        await until(lambda: len(p.holds) == 2)
        await eventually(committed)  # the group has an offset: 2
        await p.send()
        assert await p.committed_lag() == 1  # gathered, not applied
        p.carrier.drop_gathered(done=True)  # what Runtime.reset does to each member
        p.carrier.wake()  # the member's rest commits what is done
        await asyncio.sleep(1.0)  # its commit interval is 0.2 s
        assert await committed()  # the dropped record's offset, with nothing applied
        assert p.holds == ["h-1", "h-2"] and p.transactions == [2]
        await p.send()
        await p.send()
        await until(lambda: len(p.holds) == 4)
        assert p.holds == ["h-1", "h-2", "h-4", "h-5"] and p.transactions == [2, 2]
