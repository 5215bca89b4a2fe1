"""anti-money-laundering monitoring keeps movements, alerts and reports

Revision ID: 0cd5cd8fde18
Revises: eda92c4428d5
Create Date: 2026-12-01 00:20:44.494239
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0cd5cd8fde18"
down_revision: str | Sequence[str] | None = "eda92c4428d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_account",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_movement_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_compliance_account")),
    )
    op.create_table(
        "compliance_alert",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("review_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("report_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_alert")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_compliance_alert_dedup_key")),
    )
    with op.batch_alter_table("compliance_alert", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_alert_customer_created", ["customer_id", "created_at"], unique=False)
        batch_op.create_index("ix_compliance_alert_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "compliance_movement",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("counterparty_account_id", sa.String(length=64), nullable=False),
        sa.Column("counterparty_customer_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_movement")),
    )
    with op.batch_alter_table("compliance_movement", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_movement_customer_at", ["customer_id", "at"], unique=False)

    op.create_table(
        "compliance_report",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_report")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_compliance_report_alert_id")),
    )


def downgrade() -> None:
    op.drop_table("compliance_report")
    with op.batch_alter_table("compliance_movement", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_movement_customer_at")

    op.drop_table("compliance_movement")
    with op.batch_alter_table("compliance_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_alert_status_created")
        batch_op.drop_index("ix_compliance_alert_customer_created")

    op.drop_table("compliance_alert")
    op.drop_table("compliance_account")
