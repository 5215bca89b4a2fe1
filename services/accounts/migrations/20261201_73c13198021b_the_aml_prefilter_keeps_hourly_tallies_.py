"""the AML prefilter keeps hourly tallies and coverage states

The AML prefilter (services/accounts/compliance/store.py, signals) reads a customer's
CNY movements summed by account and UTC hour, and how far rapid-in-out and many-payers
alerts cover each movement, instead of scanning its windows. Both are filled here from
the movements and coverage rows already kept, as the consumer would have written them.

Revision ID: 73c13198021b
Revises: f84d8d06ad46
Create Date: 2026-12-01 17:42:12.513710
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "73c13198021b"
down_revision: str | Sequence[str] | None = "f84d8d06ad46"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns the backfill reads and writes, as they are at this revision.
movement = sa.table(
    "compliance_movement",
    *(sa.column(name, sa.String) for name in ("id", "account_id", "customer_id", "direction", "kind", "currency")),
    sa.column("counterparty_customer_id", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("amount_minor", sa.BigInteger),
    sa.column("rapid_state", sa.SmallInteger),
    sa.column("payers_state", sa.SmallInteger),
)
covered = sa.table(
    "compliance_covered",
    sa.column("movement_id", sa.String),
    sa.column("rule", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
TALLIED = (
    "cash_in_minor",
    "cash_out_minor",
    "transfers_in_minor",
    "transfers_out_minor",
    "rapid_in_count",
    "rapid_in_minor",
    "rapid_out_minor",
)
tally = sa.table(
    "compliance_tally",
    sa.column("customer_id", sa.String),
    sa.column("hour", sa.BigInteger),
    sa.column("account_id", sa.String),
    *(sa.column(name, sa.BigInteger) for name in TALLIED),
)
# Covered by an alert of the rule raised before the movement's time only, or at or after it.
COVERED_BEFORE, COVERED = 1, 2
CASH_KINDS = ("cash_deposit", "cash_withdrawal")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def backfill_states() -> None:
    """Covered by each rule's alerts, and for many payers, all but the transfers received
    from other customers (it never reads them)."""
    receiving = sa.and_(
        movement.c.direction == "in", movement.c.kind == "transfer", movement.c.counterparty_customer_id.is_not(None)
    )
    op.execute(sa.update(movement).where(~receiving).values(payers_state=COVERED))
    for rule, column in (("rapid_in_out", "rapid_state"), ("many_payers", "payers_state")):
        by_rule = [covered.c.movement_id == movement.c.id, covered.c.rule == rule]
        for state, where in ((COVERED_BEFORE, by_rule), (COVERED, [*by_rule, covered.c.created_at >= movement.c.at])):
            op.execute(
                sa.update(movement).where(sa.exists().where(*where), movement.c[column] < state).values({column: state})
            )


def backfill_tally() -> None:
    """Each customer's CNY movements summed by account and UTC hour: cash and transfers (non-
    cash with anyone but the customer) by direction, and what no rapid-in-out alert raised
    at or after it covers."""
    bind = op.get_bind()
    rows: dict[tuple[str, int, str], dict[str, int]] = {}
    query = sa.select(movement).where(movement.c.currency == "CNY", movement.c.customer_id.is_not(None))
    for m in bind.execute(query):
        at = m.at if m.at.tzinfo else m.at.replace(tzinfo=UTC)
        sums = rows.setdefault(
            (m.customer_id, (at - EPOCH) // timedelta(hours=1), m.account_id), dict.fromkeys(TALLIED, 0)
        )
        if m.kind in CASH_KINDS:
            sums[f"cash_{m.direction}_minor"] += m.amount_minor
        elif m.counterparty_customer_id != m.customer_id:
            sums[f"transfers_{m.direction}_minor"] += m.amount_minor
        if m.rapid_state != COVERED:
            sums[f"rapid_{m.direction}_minor"] += m.amount_minor
            sums["rapid_in_count"] += 1 if m.direction == "in" else 0
    values = [
        {"customer_id": customer, "hour": hour, "account_id": account, **sums}
        for (customer, hour, account), sums in rows.items()
    ]
    for i in range(0, len(values), 1000):
        bind.execute(sa.insert(tally), values[i : i + 1000])


def upgrade() -> None:
    op.create_table(
        "compliance_tally",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("cash_in_minor", sa.BigInteger(), nullable=False),
        sa.Column("cash_out_minor", sa.BigInteger(), nullable=False),
        sa.Column("transfers_in_minor", sa.BigInteger(), nullable=False),
        sa.Column("transfers_out_minor", sa.BigInteger(), nullable=False),
        sa.Column("rapid_in_count", sa.BigInteger(), nullable=False),
        sa.Column("rapid_in_minor", sa.BigInteger(), nullable=False),
        sa.Column("rapid_out_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "hour", "account_id", name=op.f("pk_compliance_tally")),
    )
    with op.batch_alter_table("compliance_movement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rapid_state", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("payers_state", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.drop_index(batch_op.f("ix_compliance_movement_account_at"))
        batch_op.create_index(
            "ix_compliance_movement_payers", ["customer_id", "account_id", "payers_state", "at"], unique=False
        )
        batch_op.create_index(
            "ix_compliance_movement_rapid", ["customer_id", "account_id", "rapid_state", "at"], unique=False
        )
    backfill_states()
    backfill_tally()


def downgrade() -> None:
    with op.batch_alter_table("compliance_movement", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_movement_rapid")
        batch_op.drop_index("ix_compliance_movement_payers")
        batch_op.create_index(batch_op.f("ix_compliance_movement_account_at"), ["account_id", "at"], unique=False)
        batch_op.drop_column("payers_state")
        batch_op.drop_column("rapid_state")

    op.drop_table("compliance_tally")
