"""Accounts' and payments' message paths in process, with no broker: the work of N transfers
through each service's ConsumerLoop, on SQLite files, for an exact count of instructions.

    python -m bench.consumers accounts 400      # N ReserveFunds, each captured with its hold (a
                                                # payment risk approved, ADR 0021), each batch's
                                                # outbox published by the relay
    python -m bench.consumers payments 400      # N payments started, then their HoldCaptured,
                                                # each group's outbox published by the relay
    python -m bench.consumers aml 400           # N HoldCaptured between 100 customers, through AML

Run it under `valgrind --tool=callgrind` with N and with 0; the difference is the cost of N
transfers, unaffected by what else the machine is doing (README, Speed). BATCH sets how
many messages a consumer batch holds (100). Each record is signed by its sender with the key
pairs in AUTH_KEYS_DIR (`sandbank keys --dir DIR` makes them), as a producer signs it, so
the count includes the consumers' signature checks (docs/adr/0011-message-signatures.md).

`aml` is the accounts process's other consumer, the AML module's: N transfers between 100
customers paying each other at random, as `bench.transfers` sends them, all within the
rules' lookback, so its history grows through the run. It also prints the CPU the N
HoldCaptured took per transfer: compare N=400 and N=2000 to see whether that grows with N.

It counts a transfer as one command and one reply (ADR 0021). On commits before that
(9c04865 and earlier) a transfer was two of each, and this file, copied there, counts an
unfinished one: use that commit's own bench/consumers.py. `_settings` and `_completed`
still let it run on the commit before the saga primitive (ca0512c), where that code
differs (no per-service settings module, a payment's `stage`).

In `accounts` and `payments` the outbox relay publishes what each step wrote, through the
process's own Producer (signing, partitioning, record batches) into `Sent` instead of a
broker: the count includes the relay's read, send and mark, but not aiokafka's sender nor
the broker's work."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import sys
import tempfile
import time
import uuid
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select, text

from shared.events import Message
from shared.events import accounts as acc
from shared.events.envelope import Envelope
from shared.kafka.consumer import ConsumerLoop
from shared.sandbox import DEMO_CUSTOMERS
from shared.settings import DbSettings, Settings

BATCH = int(os.environ.get("BATCH", "100"))


@cache
def _signer(source: str) -> Any:
    """A function giving the signature headers of `source`'s messages; none on a commit
    from before messages were signed."""
    try:
        from shared.kafka import signing
        from shared.keys import Keyring
        from shared.settings import AuthSettings
    except ImportError:
        return lambda topic, key, value: []
    keys = Keyring.load(AuthSettings().keys_dir, source)
    return lambda topic, key, value: signing.sign(keys, topic, key, value)


def record(message: Message, source: str, reply_to: str | None = None) -> Any:
    """A consumer record as aiokafka hands it over, with the headers producers set."""
    envelope = Envelope.wrap(message, source=source, correlation_id=str(uuid.uuid4()))
    headers = [("type", envelope.type.encode())]
    if reply_to is not None:
        headers.append(("causation-source", reply_to.encode()))
    key, value = envelope.subject.encode(), envelope.to_bytes()
    headers += _signer(source)(message.TOPIC, key, value)
    return SimpleNamespace(topic=message.TOPIC, key=key, value=value, headers=headers, offset=0)


def _settings(service: str) -> Any:
    """The process's settings class (before the restructuring every process used the shared one)."""
    try:
        return __import__(f"services.{service}.settings", fromlist=["Settings"]).Settings
    except ModuleNotFoundError:
        return Settings


def _completed(payment: Any) -> str:
    """The SQL condition of a completed payment (before the restructuring: its `stage`)."""
    return "outcome = 'completed'" if hasattr(payment, "outcome") else "stage = 'completed'"


async def apply_all(consumer: ConsumerLoop, records: list[Any], relay: Any = None) -> None:
    """Apply `records` in batches of BATCH; with a `relay`, publish each batch's outbox after it."""
    for i in range(0, len(records), BATCH):
        await consumer.apply(records[i : i + BATCH])
        if relay is not None:
            await relay_all(relay)


class Sent:
    """Stands in for the AIOKafkaProducer under a Producer: takes its record batches, built
    as aiokafka builds them, for PARTITIONS partitions of every topic, and acknowledges
    each at once. On a commit before the producer batched, it takes single sends the
    same way, placed by aiokafka's default partitioner."""

    PARTITIONS = frozenset(range(4))

    def __init__(self) -> None:
        from aiokafka.partitioner import DefaultPartitioner

        self.client = SimpleNamespace(cluster=SimpleNamespace(available_partitions_for_topic=self._partitions))
        self.partitioner = DefaultPartitioner()
        self.sent: list[Any] = []

    def _partitions(self, topic: str) -> frozenset[int]:
        return self.PARTITIONS

    async def partitions_for(self, topic: str) -> frozenset[int]:
        return self.PARTITIONS

    def create_batch(self) -> Any:
        from aiokafka.producer.message_accumulator import BatchBuilder

        return BatchBuilder(256 * 1024, 0)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch.record_count()))
        return self._done()

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        partitions = sorted(self.PARTITIONS)
        self.sent.append((topic, self.partitioner(key, partitions, partitions), 1))
        return self._done()

    @staticmethod
    def _done() -> Any:
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _sent(producer: Any) -> Sent:
    """Plug a `Sent` into a runtime's Producer."""
    sent = Sent()
    producer._producer = sent
    producer.started = True
    return sent


def _as_started() -> None:
    """The garbage collector as a started process tunes it (shared/runtime.py, `_tune_gc`):
    what start-up made frozen out of its scans, the young generation collected less often.
    Without it a full collection over every module and table loaded fell somewhere in the
    N transfers, and only there (not in the run with 0), and was counted as theirs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def relay_all(relay: Any) -> None:
    while await relay.drain_once():
        pass


def _print_sent(service: str, sent: Sent, n: int) -> None:
    if n:
        messages = sum(count for *_, count in sent.sent)
        print(f"{service}: {messages / n:g} messages published per transfer, in {len(sent.sent)} sends")


async def accounts(directory: str, n: int) -> int:
    from services.accounts import handlers, store
    from services.accounts.main import create_app

    app = create_app(
        _settings("accounts")(service="accounts", db=DbSettings(url=f"sqlite+aiosqlite:///{directory}/a.db"))
    )
    runtime = app.state.runtime
    await runtime.db.create_all(store.Base.metadata)
    async with runtime.unit_of_work() as uow:
        await handlers.seed(app.state.ctx, uow, demo=True)
    sent = _sent(runtime.producer)
    await relay_all(runtime.relay)  # the seed's events, in the run with 0 as well
    sent.sent.clear()
    _as_started()
    payer, payee = DEMO_CUSTOMERS[0].accounts[0].id, DEMO_CUSTOMERS[1].accounts[0].id
    holds = [f"h-{i}" for i in range(n)]
    consumer, relay = runtime.consumers[0], runtime.relay
    await apply_all(
        consumer,
        [
            record(acc.ReserveFunds(account_id=payer, hold_id=h, amount_minor=100, target_account_id=payee), "payments")
            for h in holds
        ],
        relay,
    )
    _print_sent("accounts", sent, n)
    async with runtime.db.read() as session:
        done = await session.scalar(select(func.count()).select_from(store.Hold).where(store.Hold.status == "captured"))
    await runtime.db.dispose()
    return int(done or 0)


async def payments(directory: str, n: int) -> int:
    from services.payments import handlers, store
    from services.payments.domain import Kind
    from services.payments.main import create_app

    app = create_app(
        _settings("payments")(service="payments", db=DbSettings(url=f"sqlite+aiosqlite:///{directory}/p.db"))
    )
    runtime = app.state.runtime
    await runtime.db.create_all(store.Base.metadata)
    sent = _sent(runtime.producer)
    _as_started()
    drafts = [
        handlers.Draft(
            kind=Kind.TRANSFER,
            customer_id=f"c{i % 50}",
            idempotency_key=f"k{i}",
            payer_account_id=f"a{i % 50}",
            payer_class="II",
            payee_account_id="b",
            payee_customer_id="cb",
            payee_key="account:b",
            payee_label="B*b",
            amount_minor=100,
        )
        for i in range(n)
    ]
    started = []
    for i in range(0, n, 20):  # requests arriving together share a transaction, as under load
        started += await asyncio.gather(*(app.state.starter.start(d, "bench") for d in drafts[i : i + 20]))
        await relay_all(runtime.relay)
    consumer = runtime.consumers[0]
    captured = [
        acc.HoldCaptured(
            account_id=p.payer_account_id,
            hold_id=p.id,
            target_account_id="b",
            amount_minor=100,
            released_minor=0,
            entry_id="e",
        )
        for p in started
    ]
    await apply_all(consumer, [record(m, "accounts", reply_to="payments") for m in captured], runtime.relay)
    _print_sent("payments", sent, n)
    async with runtime.db.read() as session:
        done = await session.scalar(
            select(func.count()).select_from(store.Payment).where(text(_completed(store.Payment)))
        )
    await runtime.db.dispose()
    return int(done or 0)


AML_CUSTOMERS = 100


async def aml(directory: str, n: int) -> int:
    from services.accounts import store
    from services.accounts.compliance.consumer import GROUP
    from services.accounts.main import create_app

    app = create_app(
        _settings("accounts")(service="accounts", db=DbSettings(url=f"sqlite+aiosqlite:///{directory}/a.db"))
    )
    runtime = app.state.runtime
    await runtime.db.create_all(store.Base.metadata)
    consumer = next(c for c in runtime.consumers if c.name.startswith(GROUP))
    _as_started()
    accounts = [f"aml-{i}" for i in range(AML_CUSTOMERS)]
    opened = [
        acc.AccountOpened(account_id=a, customer_id=f"aml-customer-{i}", kind="bank", currency="CNY")
        for i, a in enumerate(accounts)
    ]
    await apply_all(consumer, [record(m, "accounts") for m in opened])
    rng = random.Random(20261201)
    captured = []
    for i in range(n):
        payer, payee = rng.sample(accounts, 2)
        captured.append(
            acc.HoldCaptured(
                account_id=payer,
                hold_id=f"h-{i}",
                target_account_id=payee,
                amount_minor=rng.randint(1, 2000),
                released_minor=0,
                entry_id=f"e-{i}",
            )
        )
    records = [record(m, "accounts") for m in captured]
    started = time.process_time()
    await apply_all(consumer, records)
    cpu = time.process_time() - started
    movement = store.compliance.movement
    async with runtime.db.read() as session:
        sides = await session.scalar(select(func.count()).select_from(movement))
    await runtime.db.dispose()
    if n:
        print(f"aml: {1000 * cpu / n:.3f} ms of CPU per transfer (N={n}, batches of {BATCH})")
    return int(sides or 0) // 2


def main() -> int:
    service, n = sys.argv[1], int(sys.argv[2])
    run = {"accounts": accounts, "payments": payments, "aml": aml}[service]
    with tempfile.TemporaryDirectory() as directory:
        done = asyncio.run(run(directory, n))
    print(f"{service}: {done} of {n} transfers done")
    return 0 if done == n else 1


if __name__ == "__main__":
    sys.exit(main())
