"""The AML prefilter's sums read by the database (store.signals) are the sums the rules'
definition gives (rules.signals_of) over the history the handler would load, on this
backend: windows, bank days, currencies, coverage and other customers' rows included; and
the many-payers window it reads alone (store.payments_into) is rules.payers_history's."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

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


async def seeded(bank: Bank, rng: random.Random) -> Movement:
    """A customer's history (and another's, in the same windows), some of it covered by
    alerts, some of both too old to count; the customer's new movement, not yet recorded."""
    t: ComplianceTables = bank.app.state.compliance.tables
    customer, neighbour = str(uuid.uuid4()), str(uuid.uuid4())
    accounts = [f"{customer[:8]}-a{i}" for i in range(2)]
    payers = [str(uuid.uuid4()) for _ in range(6)]
    new_at = BASE + timedelta(minutes=rng.randint(-12 * 60, 12 * 60))
    span = int((T.lookback + timedelta(hours=12)).total_seconds())

    def at() -> datetime:
        return new_at - timedelta(seconds=rng.randint(-6 * 3600, span))

    mine = [movement(rng, customer, accounts, payers, at()) for _ in range(rng.randint(0, 30))]
    theirs = [movement(rng, neighbour, accounts, payers, at()) for _ in range(5)]
    covered = [
        {
            "movement_id": m.id,
            "rule": str(rng.choice([Rule.RAPID_IN_OUT, Rule.MANY_PAYERS, Rule.STRUCTURING])),
            "alert_id": str(uuid.uuid4()),
            "customer_id": m.customer_id,
            "created_at": at(),  # an alert older than the window covers nothing
        }
        for m in [*mine, *theirs]
        if rng.random() < 0.3
    ]
    async with bank.app.state.runtime.unit_of_work() as uow:
        if mine or theirs:
            await uow.session.execute(insert(t.movement), [store.movement_row(m) for m in [*mine, *theirs]])
        if covered:
            await uow.session.execute(insert(t.covered), covered)
    new = movement(rng, customer, accounts, payers, new_at)
    return new


async def test_the_databases_sums_are_the_rules_sums(bank: Bank) -> None:
    rng = random.Random(20261201)
    t: ComplianceTables = bank.app.state.compliance.tables
    nonzero: set[str] = set()
    for _ in range(CASES):
        new = await seeded(bank, rng)
        assert new.customer_id is not None
        since = new.at - T.lookback
        async with bank.app.state.runtime.db.read() as session:
            read = await store.signals(bank.app.state.runtime.db, session, t, new, T)
            history = History(
                await store.movements_since(session, t, new.customer_id, since),
                await store.covered(session, t, new.customer_id, since),
            )
            into = await store.payments_into(session, t, new, T)
        assert read == signals_of(new, history, T), new
        if receiving(new):
            assert into == list(payers_history(new, history, T).movements), new
            nonzero |= {"payments_into"} if into else set()
        nonzero |= {name for name, value in vars(read).items() if value}
    assert nonzero == {*vars(Signals()), "payments_into"}, nonzero  # each was tried on some history
