"""The AML tally revision: a stack's movements and alerts from before it read the same
prefilter sums after it, from the tally and coverage states it fills, as the rules give
over the history itself."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from services.accounts import store as accounts
from services.accounts.compliance import store
from services.accounts.compliance.rules import Direction, History, Kind, Movement, Rule, Thresholds, signals_of
from shared.db import Database
from shared.migrations import Migrations, downgrade, run, upgrade

BEFORE_TALLY = "f84d8d06ad46"  # accounts' schema when the prefilter scanned the movements
NOW = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
T = Thresholds()
CUSTOMERS = ["c-1", "c-2"]
ACCOUNTS = {"c-1": ["a-1", "a-2"], "c-2": ["a-3"]}
KINDS = [Kind.CASH_DEPOSIT, Kind.CASH_WITHDRAWAL, Kind.TRANSFER, Kind.TRANSFER, Kind.BILL]


def columns_before(table: sa.Table, names: list[str]) -> sa.TableClause:
    """`table` as it was before the revision (no coverage states yet), typed as the module
    writes it (its own datetimes)."""
    return sa.table(table.name, *(sa.column(name, table.c[name].type) for name in names))


movement_table = columns_before(
    accounts.compliance.movement,
    list(store.movement_row(Movement("", NOW, "", None, Direction.IN, Kind.BILL, 0, "", ""))),
)
covered_table = columns_before(
    accounts.compliance.covered, ["movement_id", "rule", "alert_id", "customer_id", "created_at"]
)


def movements(rng: random.Random) -> list[Movement]:
    """Both customers' movements over the lookback and a little after NOW (the clock set back)."""
    found = []
    for i in range(120):
        customer = rng.choice(CUSTOMERS)
        kind = rng.choice(KINDS)
        direction = {Kind.CASH_DEPOSIT: Direction.IN, Kind.CASH_WITHDRAWAL: Direction.OUT}.get(
            kind, rng.choice([Direction.IN, Direction.OUT])
        )
        other = rng.choice([customer, "p-1", "p-2", "p-3", "p-4", "p-5"]) if kind is Kind.TRANSFER else None
        found.append(
            Movement(
                id=f"m-{i}:{direction}",
                at=NOW - timedelta(minutes=rng.randint(-120, int(T.lookback.total_seconds() // 60))),
                account_id=rng.choice(ACCOUNTS[customer]),
                customer_id=customer,
                direction=direction,
                kind=kind,
                amount_minor=rng.randint(1, 60_000_00),
                currency="CNY" if rng.random() < 0.9 else "USD",
                counterparty_account_id=f"acc-of-{other}",
                counterparty_customer_id=other,
            )
        )
    return found


def coverage(rng: random.Random, found: list[Movement]) -> list[dict[str, object]]:
    """Alerts of the rules the prefilter windows, raised before, after and long before their
    movements' times."""
    return [
        {
            "movement_id": m.id,
            "rule": str(rng.choice([Rule.RAPID_IN_OUT, Rule.MANY_PAYERS, Rule.STRUCTURING])),
            "alert_id": f"al-{i}",
            "customer_id": m.customer_id,
            "created_at": m.at + timedelta(hours=rng.choice([-80, -3, 0, 2])),
        }
        for i, m in enumerate(found)
        if rng.random() < 0.4
    ]


async def test_a_stacks_history_reads_the_same_sums_after_the_upgrade(database: Database) -> None:
    rng = random.Random(20261201)
    found = movements(rng)
    cover = coverage(rng, found)
    # A new movement like each, at its time and later (the windows slid on).
    news = [
        Movement(**{**vars(m), "id": f"new-{i}-{m.id}", "at": m.at + timedelta(hours=later)})
        for m in found
        for i, later in enumerate((0, rng.choice([1, 12, 30])))
    ]

    def insert(connection: Connection, _migrations: Migrations) -> None:
        rows = [store.movement_row(m) for m in found]
        connection.execute(sa.insert(movement_table), rows)
        connection.execute(sa.insert(covered_table), cover)

    migrations = accounts.migrations
    await run(database, migrations, upgrade(BEFORE_TALLY))
    await run(database, migrations, insert)
    await run(database, migrations, upgrade("head"))

    async def read_all() -> list[tuple[object, ...]]:
        reads = []
        t = accounts.compliance
        async with database.read() as session:
            for new in news:
                assert new.customer_id is not None
                since = new.at - T.lookback
                history = History(
                    await store.movements_since(session, t, new.customer_id, since),
                    await store.covered(session, t, new.customer_id, since),
                )
                read = await store.signals(database, session, t, new, T)
                assert read == signals_of(new, history, T), new
                reads.append(tuple(vars(read).values()))
        return reads

    first = await read_all()
    assert any(any(values) for values in first)
    await run(database, migrations, downgrade(BEFORE_TALLY))
    await run(database, migrations, upgrade("head"))  # and again, from the movements alone
    assert await read_all() == first
