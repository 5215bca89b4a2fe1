"""The AML consumer finds the same whatever the size of its batches: one random sequence of
ledger facts, applied one fact per transaction and in large batches, leaves the same
movements, accounts and alerts (store.ComplianceBatch writes a batch's movements at its
end, so a batch must still show each fact the ones before it); and a batch delivered
again applies nothing twice. Throughout, every prefilter read (store.signals, from the
tally and the coverage states the consumer keeps) is the rules' own sums over the history
it would load, the sandbox clock moving back among the facts or not."""

from __future__ import annotations

import json
import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from services.accounts.compliance import store
from services.accounts.compliance.consumer import GROUP
from services.accounts.compliance.handlers import CASH_IN, SEED_CREDIT
from services.accounts.compliance.rules import History, Movement, Rule, Signals, Thresholds, signals_of
from services.accounts.compliance.store import ComplianceTables
from shared.db import Database, Transactional, session_of
from shared.events import Envelope, Message
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_EVENTS
from shared.kafka.consumer import ConsumerLoop
from tests.integration.harness import Bank, signed

BASE = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
FACTS = 160
CUSTOMERS = 7
OTHER_SIDES = [CASH_IN, "internal:biller-settlement", "internal:insurance-claims", "internal:topup-settlement"]


def amount(rng: random.Random) -> int:
    """Small sums, and sums near the rules' thresholds, some ending in a magic fen."""
    minor = rng.choice(
        [
            rng.randint(1, 2000_00),
            rng.randint(40_000_00, 49_999_00),  # just under the cash report
            rng.randint(10_000_00, 60_000_00),
            rng.randint(400_000_00, 499_999_00),  # just under the transfers' report
        ]
    )
    return minor - minor % 100 + rng.choice([71, 72, 73, 74, 75, 76]) if rng.random() < 0.04 else minor


@pytest.fixture(autouse=True)
def checked_signals(monkeypatch: pytest.MonkeyPatch) -> list[Signals]:
    """store.signals, each read checked against rules.signals_of over the customer's history
    as the handler would load it, in the same transaction; the reads, to show some counted."""
    read = store.signals
    seen: list[Signals] = []

    async def signals(
        db: Database, tx: Transactional, t: ComplianceTables, new: Movement, th: Thresholds, unwritten: Any = None
    ) -> Signals:
        found = await read(db, tx, t, new, th, unwritten)
        session = session_of(tx)
        assert new.customer_id is not None
        since = new.at - th.lookback
        movements = await store.movements_since(session, t, new.customer_id, since)
        history = History(movements, await store.covered(session, t, new.customer_id, since))
        assert found == signals_of(new, history, th), new
        seen.append(found)
        return found

    monkeypatch.setattr(store, "signals", signals)
    return seen


def facts(prefix: str, seed: int, *, clock_back: bool = False) -> list[tuple[str, Message, datetime]]:
    """(envelope id, fact, time): customers' accounts opened before and during the run (the
    last one long ago, for dormant), cash, bills and transfers between them, a seed credit,
    an account the module never heard of, and some facts delivered twice. The same `seed`
    gives the same sequence under another `prefix` of ids. With `clock_back` the sandbox
    clock is now and then set back by up to two days: windows slide backwards, and alerts
    cover movements later than themselves."""
    rng = random.Random(seed)
    customers = [f"{prefix}-c{i}" for i in range(CUSTOMERS)]
    bank = [f"{prefix}-a{i}" for i in range(CUSTOMERS)]
    securities = {f"{prefix}-s{i}": customers[i] for i in range(2)}
    accounts = [*bank, *securities, f"{prefix}-unknown"]
    opened: list[tuple[Message, datetime]] = [
        (ev.AccountOpened(account_id=a, customer_id=c, kind="bank", currency="CNY"), BASE - timedelta(days=1))
        for a, c in zip(bank, customers, strict=True)
    ]
    opened += [
        (ev.AccountOpened(account_id=a, customer_id=c, kind="securities_cash", currency="CNY"), BASE)
        for a, c in securities.items()
    ]
    opened[CUSTOMERS - 1] = (opened[CUSTOMERS - 1][0], BASE - timedelta(days=200))
    # A seed opening an account again after a restart: the first opening stands.
    opened.append((ev.AccountOpened(account_id=bank[0], customer_id=customers[1], kind="bank", currency="CNY"), BASE))
    late = opened[2:]  # opened among the first facts that name them
    sequence: list[tuple[Message, datetime]] = opened[:2]
    at = BASE
    for i in range(FACTS):
        at += timedelta(minutes=rng.randint(1, 30))
        if clock_back and rng.random() < 0.05:
            at -= timedelta(minutes=rng.randint(1, 48 * 60))
        if late and rng.random() < 0.2:
            sequence.append(late.pop(0))
        payer, payee = rng.sample(accounts, 2)
        ref, other = f"{prefix}-f{i}", rng.choice(OTHER_SIDES)
        fact: Message
        match rng.choice(["credit", "credit", "capture", "capture", "transfer", "transfer"]):
            case "credit":
                fact = ev.AccountCredited(
                    account_id=payee,
                    credit_id=f"{SEED_CREDIT}{ref}" if rng.random() < 0.03 else ref,
                    source_account_id=other if rng.random() < 0.6 else payer,
                    amount_minor=amount(rng),
                    currency="CNY",
                    entry_id=ref,
                    balance_minor=0,
                )
            case "capture":
                fact = ev.HoldCaptured(
                    account_id=payer,
                    hold_id=ref,
                    target_account_id=other if rng.random() < 0.3 else payee,
                    amount_minor=amount(rng),
                    released_minor=0,
                    entry_id=ref,
                )
            case _:
                fact = ev.FundsTransferred(
                    account_id=payer,
                    transfer_id=ref,
                    to_account_id=payee,
                    amount_minor=amount(rng),
                    currency="CNY" if rng.random() < 0.9 else "USD",
                    entry_id=ref,
                )
        sequence.append((fact, at))
    sequence += late
    found = [(f"{prefix}-e{i}", m, t) for i, (m, t) in enumerate(sequence)]
    for _ in range(8):  # delivered again, later
        again = rng.randrange(len(found) - 1)
        found.insert(rng.randrange(again + 1, len(found)), found[again])
    return found


def records(facts: list[tuple[str, Message, datetime]]) -> list[Any]:
    """The facts as the consumer takes them from the broker, signed by accounts."""
    out = []
    for message_id, message, at in facts:
        envelope = Envelope.wrap(message, source="accounts", id=message_id, time=at)
        key, value = envelope.subject.encode(), envelope.to_bytes()
        headers = [("type", envelope.type.encode()), *signed(ACCOUNTS_EVENTS, key, value, "accounts")]
        out.append(SimpleNamespace(topic=ACCOUNTS_EVENTS, key=key, value=value, headers=headers, offset=0))
    return out


def aml_consumer(bank: Bank) -> ConsumerLoop:
    return next(c for c in bank.app.state.runtime.consumers if c.name.startswith(GROUP))


async def apply(bank: Bank, batch: list[Any], size: int, caplog: pytest.LogCaptureFixture) -> None:
    consumer = aml_consumer(bank)
    for i in range(0, len(batch), size):
        await consumer.apply(batch[i : i + size])
    # A failed batch is applied again one fact at a time: that would hide the batch's result.
    assert not [r for r in caplog.records if "applying one by one" in r.getMessage()]


async def state(bank: Bank, prefix: str) -> dict[str, Any]:
    """What the module keeps of the prefix's customers, their ids made the prefix's own."""
    t: ComplianceTables = bank.app.state.compliance.tables

    def plain(row: Any, *leave_out: str) -> str:
        values = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row._mapping.items()}
        return json.dumps({k: v for k, v in values.items() if k not in leave_out}, sort_keys=True).replace(prefix, "P")

    async with bank.app.state.runtime.db.read() as session:
        alerts = list(await session.execute(select(t.alert).where(t.alert.c.customer_id.startswith(prefix))))
        keys = {a.id: a.dedup_key for a in alerts}
        covered = await session.execute(select(t.covered).where(t.covered.c.customer_id.startswith(prefix)))
        movements = await session.execute(select(t.movement).where(t.movement.c.account_id.startswith(prefix)))
        accounts = await session.execute(select(t.account).where(t.account.c.account_id.startswith(prefix)))
        return {
            "alerts": sorted(plain(a, "id") for a in alerts),
            "covered": sorted(f"{keys[c.alert_id]} {plain(c, 'alert_id')}".replace(prefix, "P") for c in covered),
            "movements": sorted(plain(m) for m in movements),
            "accounts": sorted(plain(a) for a in accounts),
        }


@pytest.mark.parametrize(("seed", "clock_back"), [(1, False), (2, False), (4, True)])
async def test_batches_of_any_size_find_the_same(
    bank: Bank, seed: int, clock_back: bool, caplog: pytest.LogCaptureFixture, checked_signals: list[Signals]
) -> None:
    caplog.set_level(logging.WARNING, logger="shared.kafka.consumer")
    runs = {size: uuid.uuid4().hex[:8] for size in (1, 40, 1000)}
    for size, prefix in runs.items():
        await apply(bank, records(facts(prefix, seed, clock_back=clock_back)), size, caplog)
    one_by_one, *batched = [await state(bank, prefix) for prefix in runs.values()]
    for found in batched:
        assert found == one_by_one
    # Not a vacuous sequence: each rule fired on its threshold (dormant at least forced).
    alerts = [json.loads(a) for a in one_by_one["alerts"]]
    assert {a["rule"] for a in alerts if not a["forced"]} >= set(Rule) - {Rule.DORMANT}, alerts
    assert Rule.DORMANT in {a["rule"] for a in alerts}, alerts
    assert {name for read in checked_signals for name, value in vars(read).items() if value} == set(vars(Signals()))


async def test_a_batch_delivered_again_applies_nothing_twice(bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="shared.kafka.consumer")
    prefix = uuid.uuid4().hex[:8]
    batch = records(facts(prefix, 3))
    await apply(bank, batch, 1000, caplog)
    first = await state(bank, prefix)
    await apply(bank, batch, 1000, caplog)
    await apply(bank, batch[::-1], 25, caplog)
    assert await state(bank, prefix) == first
