"""scheduled transfers and standing orders

Revision ID: e744d6a8e2bc
Revises: c12ff1a4f1bc
Create Date: 2026-11-30 12:40:38.464130
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e744d6a8e2bc"
down_revision: str | Sequence[str] | None = "c12ff1a4f1bc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_schedule",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("payer_account_id", sa.String(length=64), nullable=False),
        sa.Column("payee_account_id", sa.String(length=64), nullable=False),
        sa.Column("payee_customer_id", sa.String(length=36), nullable=True),
        sa.Column("payee_key", sa.String(length=120), nullable=False),
        sa.Column("payee_label", sa.String(length=120), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=140), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("repeat", sa.String(length=10), nullable=False),
        sa.Column("first_run_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("runs_made", sa.Integer(), nullable=False),
        sa.Column("next_run_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_schedule")),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_schedule_customer_id_idempotency_key"),
    )
    with op.batch_alter_table("payment_schedule", schema=None) as batch_op:
        batch_op.create_index("ix_payment_schedule_customer_id_created_at", ["customer_id", "created_at"], unique=False)
        batch_op.create_index("ix_payment_schedule_status_next_run_on", ["status", "next_run_on"], unique=False)

    op.create_table(
        "payment_schedule_run",
        sa.Column("schedule_id", sa.String(length=36), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["payment_schedule.id"], name=op.f("fk_payment_schedule_run_schedule_id_payment_schedule")
        ),
        sa.PrimaryKeyConstraint("schedule_id", "run_on", name=op.f("pk_payment_schedule_run")),
    )


def downgrade() -> None:
    op.drop_table("payment_schedule_run")
    with op.batch_alter_table("payment_schedule", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_schedule_status_next_run_on")
        batch_op.drop_index("ix_payment_schedule_customer_id_created_at")

    op.drop_table("payment_schedule")
