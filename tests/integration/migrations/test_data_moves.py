"""Revisions that move rows, not only shapes: a database with sagas in every state comes
through an upgrade with each saga where it was, and back through the downgrade."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, text

from services.payments import store as payments
from shared.db import Database
from shared.migrations import Migrations, downgrade, run, upgrade

BEFORE_SAGAS = "db524646b879"  # payments' schema when a payment had a `stage`
AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
STAGES = {
    "p-reserving": ("reserving_funds", "reserve", None),
    "p-capturing": ("capturing", "capture", None),
    "p-releasing": ("releasing", "release", None),
    "p-completed": ("completed", None, "completed"),
    "p-failed": ("failed", None, "failed"),
}


def _insert_payments(connection: Connection, _migrations: Migrations) -> None:
    for payment_id, (stage, _, outcome) in STAGES.items():
        connection.execute(
            text(
                "INSERT INTO payment (id, customer_id, idempotency_key, kind, stage, payer_account_id, "
                "payee_account_id, payee_key, payee_label, reference, note, amount_minor, currency, attempts, "
                "created_at, updated_at, completed_at) VALUES (:id, 'c-1', :id, 'transfer', :stage, 'a-1', 'a-2', "
                "'account:a-2', 'B*b', '', '', 100, 'CNY', 1, :at, :at, :done)"
            ),
            {"id": payment_id, "stage": stage, "at": AT, "done": AT if outcome else None},
        )


def _sagas(connection: Connection, _migrations: Migrations) -> dict[str, tuple[object, ...]]:
    rows = connection.execute(text("SELECT id, step, outcome, ended_at IS NOT NULL FROM payment ORDER BY id"))
    return {r[0]: tuple(r[1:]) for r in rows}


def _stages(connection: Connection, _migrations: Migrations) -> dict[str, tuple[object, ...]]:
    rows = connection.execute(text("SELECT id, stage, completed_at IS NOT NULL FROM payment ORDER BY id"))
    return {r[0]: tuple(r[1:]) for r in rows}


async def test_payments_keep_their_place_through_the_saga_revision(database: Database) -> None:
    migrations = payments.migrations
    await run(database, migrations, upgrade(BEFORE_SAGAS))
    await run(database, migrations, _insert_payments)

    await run(database, migrations, upgrade("head"))

    assert await run(database, migrations, _sagas) == {
        payment_id: (step, outcome, outcome is not None) for payment_id, (_, step, outcome) in STAGES.items()
    }

    await run(database, migrations, downgrade(BEFORE_SAGAS))

    assert await run(database, migrations, _stages) == {
        payment_id: (stage, outcome is not None) for payment_id, (stage, _, outcome) in STAGES.items()
    }
