"""AML coverage kept as rows, movements indexed by account

Revision ID: f84d8d06ad46
Revises: a9b05533f8f6
Create Date: 2026-12-01 07:42:49.685415
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f84d8d06ad46"
down_revision: str | Sequence[str] | None = "a9b05533f8f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns the backfill reads and writes, as they are at this revision.
alert = sa.table(
    "compliance_alert",
    sa.column("id", sa.String),
    sa.column("rule", sa.String),
    sa.column("customer_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("evidence", sa.JSON),
)
covered = sa.table(
    "compliance_covered",
    sa.column("movement_id", sa.String),
    sa.column("rule", sa.String),
    sa.column("alert_id", sa.String),
    sa.column("customer_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def backfill() -> None:
    """One row per movement in each alert's evidence, as the AML module writes them now."""
    bind = op.get_bind()
    rows = []
    for a in bind.execute(sa.select(alert)):
        for movement_id in dict.fromkeys(item["id"] for item in a.evidence):
            rows.append(
                {
                    "movement_id": movement_id,
                    "rule": a.rule,
                    "alert_id": a.id,
                    "customer_id": a.customer_id,
                    "created_at": a.created_at,
                }
            )
    for i in range(0, len(rows), 1000):
        bind.execute(sa.insert(covered), rows[i : i + 1000])


def upgrade() -> None:
    op.create_table(
        "compliance_covered",
        sa.Column("movement_id", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "rule", "alert_id", name=op.f("pk_compliance_covered")),
    )
    with op.batch_alter_table("compliance_covered", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_covered_customer_created", ["customer_id", "created_at"], unique=False)

    with op.batch_alter_table("compliance_movement", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_movement_account_at", ["account_id", "at"], unique=False)
    backfill()


def downgrade() -> None:
    with op.batch_alter_table("compliance_movement", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_movement_account_at")

    with op.batch_alter_table("compliance_covered", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_covered_customer_created")

    op.drop_table("compliance_covered")
