"""The AML coverage revision: alerts raised before it keep covering their movements, read
out of their evidence into the coverage rows the rules now read."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from services.accounts import store as accounts
from shared.db import Database
from shared.migrations import Migrations, downgrade, run, upgrade

BEFORE_COVERAGE = "a9b05533f8f6"  # accounts' schema when coverage lived in alerts' evidence
AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
ALERTS = {
    # alert id: (rule, customer, evidence movement ids)
    "al-1": ("many_payers", "c-1", ["m-1:in", "m-2:in", "m-3:in"]),
    "al-2": ("large_cash", "c-1", ["m-4:in"]),
    "al-3": ("large_cash", "c-1", ["m-4:in", "m-5:in"]),  # the same movement in a second alert
    "al-4": ("rapid_in_out", "c-2", ["m-6:in", "m-7:out"]),
}
alert = sa.table(
    "compliance_alert",
    *(sa.column(name, sa.String) for name in ("id", "rule", "category", "customer_id", "account_id", "dedup_key")),
    *(sa.column(name, sa.String) for name in ("status", "detail", "currency")),
    sa.column("total_minor", sa.BigInteger),
    sa.column("forced", sa.Boolean),
    sa.column("evidence", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _insert_alerts(connection: Connection, _migrations: Migrations) -> None:
    connection.execute(
        sa.insert(alert),
        [
            {
                "id": alert_id,
                "rule": rule,
                "category": "suspicious",
                "customer_id": customer,
                "account_id": f"a-{customer}",
                "dedup_key": f"{rule}:{alert_id}",
                "status": "open",
                "detail": "",
                "currency": "CNY",
                "total_minor": 100,
                "forced": False,
                "evidence": [{"id": movement_id, "amount_minor": 100} for movement_id in evidence],
                "created_at": AT,
            }
            for alert_id, (rule, customer, evidence) in ALERTS.items()
        ],
    )


def _covered(connection: Connection, _migrations: Migrations) -> set[tuple[object, ...]]:
    rows = connection.execute(
        sa.text("SELECT alert_id, rule, customer_id, movement_id FROM compliance_covered WHERE created_at IS NOT NULL")
    )
    return {tuple(r) for r in rows}


async def test_alerts_raised_before_keep_covering_their_movements(database: Database) -> None:
    migrations = accounts.migrations
    await run(database, migrations, upgrade(BEFORE_COVERAGE))
    await run(database, migrations, _insert_alerts)

    await run(database, migrations, upgrade("head"))

    found = await run(database, migrations, _covered)
    assert found == {
        (alert_id, rule, customer, movement_id)
        for alert_id, (rule, customer, evidence) in ALERTS.items()
        for movement_id in evidence
    }

    await run(database, migrations, downgrade(BEFORE_COVERAGE))
    await run(database, migrations, upgrade("head"))  # and again, from the alerts alone
    assert await run(database, migrations, _covered) == found
