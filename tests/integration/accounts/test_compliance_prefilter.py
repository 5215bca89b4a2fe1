"""The AML prefilter's sums read by the database (store.signals) are the sums the rules'
definition gives (rules.signals_of) over the history the handler would load, on this
backend: windows, bank days, currencies, coverage and other customers' rows included; and
the many-payers window it reads alone (store.payments_into) is rules.payers_history's."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from services.accounts.compliance import store
from services.accounts.compliance.rules import (
    CASH_KINDS,
    Direction,
    History,
    Kind,
    Movement,
    Rule,
    Signals,
    Thresholds,
    payers_history,
    receiving,
    signals_of,
)
from services.accounts.compliance.store import ComplianceTables
from tests.integration.harness import Bank

T = Thresholds()
window = {
    Rule.RAPID_IN_OUT: timedelta(hours=T.rapid_window_h),
    Rule.MANY_PAYERS: timedelta(hours=T.many_payers_window_h),
}
CASES = 40
# Around midnight in Beijing (16:00 UTC), so the bank day's bounds fall inside the window.
BASE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def movement(rng: random.Random, customer: str, accounts: list[str], payers: list[str], at: datetime) -> Movement:
    kind = rng.choice([Kind.CASH_DEPOSIT, Kind.CASH_WITHDRAWAL, Kind.TRANSFER, Kind.TRANSFER, Kind.BILL])
    direction = {Kind.CASH_DEPOSIT: Direction.IN, Kind.CASH_WITHDRAWAL: Direction.OUT}.get(
        kind, rng.choice([Direction.IN, Direction.OUT])
    )
    other = (customer if rng.random() < 0.1 else rng.choice(payers)) if kind is Kind.TRANSFER else None
    return Movement(
        id=f"{uuid.uuid4()}:{direction}",
        at=at,
        account_id=rng.choice(accounts),
        customer_id=customer,
        direction=direction,
        kind=kind,
        amount_minor=rng.choice([rng.randint(1, 2000_00), rng.randint(5_000_00, 60_000_00)]),
        currency="CNY" if rng.random() < 0.9 else "USD",
        counterparty_account_id="internal:cash-in" if kind in CASH_KINDS else f"acc-of-{other}",
        counterparty_customer_id=other,
    )


async def seeded(
    bank: Bank, rng: random.Random, *, near_start_of: Rule | None = None
) -> tuple[Movement, list[Movement], list[dict[str, Any]]]:
    """A customer's history (and another's, in the same windows), some of it covered by
    alerts, some of both too old to count; the customer's new movement, not yet recorded;
    the customer's earlier movements and the coverage rows. `near_start_of` rapid in and out
    or many payers puts most times within two hours of that rule's window's start, and
    makes the new movement one the rule reads its window for (out, or received)."""
    t: ComplianceTables = bank.app.state.compliance.tables
    customer, neighbour = str(uuid.uuid4()), str(uuid.uuid4())
    accounts = [f"{customer[:8]}-a{i}" for i in range(2)]
    payers = [str(uuid.uuid4()) for _ in range(6)]
    new_at = BASE + timedelta(minutes=rng.randint(-12 * 60, 12 * 60))
    span = int((T.lookback + timedelta(hours=12)).total_seconds())

    def at() -> datetime:
        if near_start_of is not None and rng.random() < 0.7:
            return new_at - window[near_start_of] + timedelta(seconds=rng.randint(-7200, 7200))
        return new_at - timedelta(seconds=rng.randint(-6 * 3600, span))

    def long_ago() -> datetime:
        return new_at - T.lookback - timedelta(seconds=rng.randint(1, 12 * 3600))

    mine = [movement(rng, customer, accounts, payers, at()) for _ in range(rng.randint(0, 30))]
    theirs = [movement(rng, neighbour, accounts, payers, at()) for _ in range(5)]
    covered = [
        {
            "movement_id": m.id,
            "rule": str(rng.choice([Rule.RAPID_IN_OUT, Rule.MANY_PAYERS, Rule.STRUCTURING])),
            "alert_id": str(uuid.uuid4()),
            "customer_id": m.customer_id,
            # An alert older than the lookback covers nothing, whenever it was raised.
            "created_at": at() if rng.random() < 0.7 else long_ago(),
        }
        for m in [*mine, *theirs]
        if rng.random() < 0.3
    ]
    db = bank.app.state.runtime.db
    async with bank.app.state.runtime.unit_of_work() as uow:
        # As the consumer writes them: the movements added to the tally, then each alert's
        # coverage raising their states (an alert raised before a movement's time too).
        tallies = store.Tallies()
        await store.write_movements(db, uow.session, t, [(m, store.fresh_states(m)) for m in [*mine, *theirs]], tallies)
        if covered:
            await uow.session.execute(insert(t.covered), covered)
        by_id = {m.id: m for m in [*mine, *theirs]}
        for row in covered:
            m, rule = by_id[row["movement_id"]], Rule(row["rule"])
            if rule in store.STATE_COLUMNS:
                state = store.COVERED if m.at <= row["created_at"] else store.COVERED_BEFORE
                await store.cover_written(db, uow.session, t, rule, [(m, state)], tallies)
        store.stage_tallies(uow, t, tallies)
    new = movement(rng, customer, accounts, payers, new_at)
    if near_start_of is Rule.RAPID_IN_OUT:
        new = replace(new, direction=Direction.OUT, kind=Kind.TRANSFER if new.kind is Kind.CASH_DEPOSIT else new.kind)
    elif near_start_of is Rule.MANY_PAYERS:
        payer = rng.choice(payers)
        new = replace(new, direction=Direction.IN, kind=Kind.TRANSFER, counterparty_customer_id=payer)
    return new, mine, covered


async def test_the_databases_sums_are_the_rules_sums(bank: Bank) -> None:
    rng = random.Random(20261201)
    t: ComplianceTables = bank.app.state.compliance.tables
    nonzero: set[str] = set()
    for _ in range(CASES):
        new, _, _ = await seeded(bank, rng)
        assert new.customer_id is not None
        since = new.at - T.lookback
        async with bank.app.state.runtime.db.read() as session:
            read = await store.signals(bank.app.state.runtime.db, session, t, new, T)
            history = History(
                await store.movements_since(session, t, new.customer_id, since),
                await store.covered(session, t, new.customer_id, since),
            )
            into = await store.payments_into(bank.app.state.runtime.db, session, t, new, T)
        assert read == signals_of(new, history, T), new
        if receiving(new):
            assert into == list(payers_history(new, history, T).movements), new
            nonzero |= {"payments_into"} if into else set()
        nonzero |= {name for name, value in vars(read).items() if value}
    assert nonzero == {*vars(Signals()), "payments_into"}, nonzero  # each was tried on some history


async def test_the_rapid_window_is_exact_where_its_tally_is_not_all_it_reads(bank: Bank) -> None:
    """Movements in the rapid window's first, partial hour (read as movements), and in its
    whole hours covered by an alert raised before them (kept in their tally, and taken out
    of the sums only while that alert is within the lookback): each case tried."""
    rng = random.Random(20261202)
    t: ComplianceTables = bank.app.state.compliance.tables
    tried: set[str] = set()
    for _ in range(CASES):
        new, mine, covered = await seeded(bank, rng, near_start_of=Rule.RAPID_IN_OUT)
        assert new.customer_id is not None
        since = new.at - T.lookback
        async with bank.app.state.runtime.db.read() as session:
            read = await store.signals(bank.app.state.runtime.db, session, t, new, T)
            history = History(
                await store.movements_since(session, t, new.customer_id, since),
                await store.covered(session, t, new.customer_id, since),
            )
        assert read == signals_of(new, history, T), new
        rapid_since = new.at - timedelta(hours=T.rapid_window_h)
        first_whole_hour = store.EPOCH + store.hour_after(rapid_since) * store.HOUR
        window = [m for m in mine if m.account_id == new.account_id and m.at >= rapid_since and m.currency == "CNY"]
        raised_before = {
            c["movement_id"]
            for c in covered
            if c["rule"] == Rule.RAPID_IN_OUT and since <= c["created_at"] < new.at - timedelta(hours=T.rapid_window_h)
        }
        if any(m.at < first_whole_hour for m in window):
            tried.add("partial hour")
        long_covered = {c["movement_id"] for c in covered if c["rule"] == Rule.RAPID_IN_OUT and c["created_at"] < since}
        if any(m.at < first_whole_hour and m.id in long_covered for m in window):
            tried.add("partial hour, covered long ago")
        if any(m.at >= first_whole_hour and m.id in raised_before for m in window):
            tried.add("covered before")
    assert tried == {"partial hour", "partial hour, covered long ago", "covered before"}, tried


async def test_the_many_payers_window_is_exact_at_its_start(bank: Bank) -> None:
    """Transfers received at the many-payers window's start, some covered by an alert older
    than the lookback (which covers nothing): the prefilter reads them too."""
    rng = random.Random(20261203)
    t: ComplianceTables = bank.app.state.compliance.tables
    tried = False
    for _ in range(CASES):
        new, mine, covered = await seeded(bank, rng, near_start_of=Rule.MANY_PAYERS)
        assert new.customer_id is not None
        since = new.at - T.lookback
        async with bank.app.state.runtime.db.read() as session:
            read = await store.signals(bank.app.state.runtime.db, session, t, new, T)
            history = History(
                await store.movements_since(session, t, new.customer_id, since),
                await store.covered(session, t, new.customer_id, since),
            )
        assert read == signals_of(new, history, T), new
        long_covered = {c["movement_id"] for c in covered if c["rule"] == Rule.MANY_PAYERS and c["created_at"] < since}
        payers_since = new.at - window[Rule.MANY_PAYERS]
        in_window = [m for m in mine if m.account_id == new.account_id and m.at >= payers_since and receiving(m)]
        tried |= any(
            m.id in long_covered and m.counterparty_customer_id != new.counterparty_customer_id for m in in_window
        )
    assert tried
