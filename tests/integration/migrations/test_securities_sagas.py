"""securities' saga revision carries every order's and transfer's state across: the public
status an order showed before is the one its saga columns stand for after, and back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.securities.domain import order_status, transfer_status
from shared.db import Database
from shared.migrations import downgrade, run, upgrade
from tools.migration import MIGRATIONS

BEFORE, SAGAS = "848305a793d2", "877a73e13396"
NOW = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)
DAY = date(2026, 5, 20)
DUE = NOW + timedelta(seconds=5)
# (public status, step, reason) of orders as the old shape stored them.
ORDERS = [
    ("pending", "reserve", None),
    ("accepted", None, None),
    ("filling", "capture", None),
    ("filled", None, None),
    ("cancelling", "release", "customer"),
    ("cancelled", None, "expired"),
    ("rejected", None, "insufficient_funds"),
]
TRANSFERS = ["pending", "completed", "failed"]


@dataclass
class Row:
    """What `order_status` reads of a saga row."""

    step: str | None
    outcome: str | None
    reason: str | None
    filled_quantity: int = 0  # orders before partial fills filled whole or not at all


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


async def _execute(database: Database, statement: Any) -> list[sa.Row[Any]]:
    async with database.writer.begin() as conn:
        result = await conn.execute(statement)
        return list(result.all()) if result.returns_rows else []


async def test_orders_and_transfers_keep_their_state_across_the_saga_revision(database: Database) -> None:
    migrations = MIGRATIONS["securities"]
    await run(database, migrations, upgrade(BEFORE))
    common = {"customer_id": "c", "created_at": NOW, "updated_at": NOW}
    old_orders = [_old_order(n, status, step, reason) | common for n, (status, step, reason) in enumerate(ORDERS)]
    old_transfers = [_old_transfer(n, status) | common for n, status in enumerate(TRANSFERS)]
    orders, transfers = _table("security_order", old_orders[0]), _table("bank_transfer", old_transfers[0])
    await _execute(database, orders.insert().values(old_orders))
    await _execute(database, transfers.insert().values(old_transfers))

    await run(database, migrations, upgrade(SAGAS))

    saga = _table("security_order", ["id", "kind", "step", "outcome", "reason", "deadline_at"])
    after = {r.id: r for r in await _execute(database, sa.select(saga))}
    for n, (status, step, _) in enumerate(ORDERS):
        row = after[f"order-{n}"]
        assert order_status(Row(row.step, row.outcome, row.reason)) == status, row
        assert row.kind == "order"
        if step is not None:
            assert _utc(row.deadline_at) == DUE, row
    accepted = after[f"order-{[s for s, _, _ in ORDERS].index('accepted')}"]
    assert (accepted.step, _utc(accepted.deadline_at)) == ("rest", datetime(2026, 5, 20, 16, 0, tzinfo=UTC))
    moved = _table("bank_transfer", ["id", "kind", "step", "outcome", "deadline_at"])
    for row in await _execute(database, sa.select(moved).order_by(moved.c.id)):
        status = TRANSFERS[int(row.id.rsplit("-", 1)[1])]
        assert (transfer_status(row), row.kind) == (status, "bank_transfer"), row
        assert (row.step, _utc(row.deadline_at)) == (("transfer", DUE) if status == "pending" else (None, None))

    await run(database, migrations, downgrade(BEFORE))

    back = {r.id: r for r in await _execute(database, sa.select(orders))}
    for old in old_orders:
        row = back[old["id"]]
        assert (row.status, row.step, bool(row.settled)) == (old["status"], old["step"], old["settled"]), row
    back_transfers = await _execute(database, sa.select(transfers).order_by(transfers.c.id))
    assert [r.status for r in back_transfers] == TRANSFERS


def _table(name: str, columns: Any) -> sa.TableClause:
    """The columns named, typed as the tables declare them."""

    def typed(column: str) -> Any:
        if column.endswith("_at"):
            return sa.DateTime(timezone=True)
        if column in ("quantity", "reserved_minor", "amount_minor", "attempts"):
            return sa.BigInteger()
        return {"bank_day": sa.Date(), "settled": sa.Boolean()}.get(column, sa.String())

    return sa.table(name, *(sa.column(c, typed(c)) for c in columns))


def _old_order(n: int, status: str, step: str | None, reason: str | None) -> dict[str, Any]:
    return {
        "id": f"order-{n}",
        "account_id": "a",
        "symbol": "600519",
        "side": "buy",
        "order_type": "limit",
        "quantity": 100,
        "reserved_minor": 1_000_00,
        "status": status,
        "reason": reason,
        "bank_day": DAY,
        "settled": status == "filled",
        "step": step,
        "attempts": 1,
        "step_deadline_at": DUE if step else None,
        "filled_at": NOW if status == "filled" else None,
    }


def _old_transfer(n: int, status: str) -> dict[str, Any]:
    return {
        "id": f"transfer-{n}",
        "direction": "bank_to_securities",
        "from_account_id": "a",
        "to_account_id": "b",
        "amount_minor": 100_00,
        "currency": "CNY",
        "status": status,
        "attempts": 1,
        "step_deadline_at": DUE if status == "pending" else None,
    }
