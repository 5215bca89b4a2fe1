"""Sagas on the shared primitive: step and outcome instead of stage, sandbox deposits

Revision ID: 0a99d0235b4e
Revises: db524646b879
Create Date: 2026-11-30 10:00:02.165351
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a99d0235b4e"
down_revision: str | Sequence[str] | None = "db524646b879"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A payment's stage becomes its saga step while running, its outcome once ended.
STEP_OF_STAGE = (
    "CASE stage WHEN 'reserving_funds' THEN 'reserve' WHEN 'capturing' THEN 'capture' "
    "WHEN 'releasing' THEN 'release' END"
)
STAGE_OF_STEP = (
    "COALESCE(outcome, CASE step WHEN 'reserve' THEN 'reserving_funds' WHEN 'capture' "
    "THEN 'capturing' WHEN 'release' THEN 'releasing' END)"
)


def upgrade() -> None:
    op.create_table(
        "deposit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit")),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_deposit_customer_id_idempotency_key"),
    )
    op.create_index("ix_deposit_customer_id_created_at", "deposit", ["customer_id", "created_at"])
    op.create_index(op.f("ix_deposit_deadline_at"), "deposit", ["deadline_at"])

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=10), type_=sa.String(length=20), existing_nullable=False
        )
    op.execute(
        f"UPDATE payment SET step = {STEP_OF_STAGE}, ended_at = completed_at, "
        "outcome = CASE WHEN stage IN ('completed', 'failed') THEN stage END"
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_stage_deadline_at")
        batch_op.create_index(batch_op.f("ix_payment_deadline_at"), ["deadline_at"], unique=False)
        batch_op.drop_column("completed_at")
        batch_op.drop_column("stage")


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE payment SET stage = {STAGE_OF_STEP}, completed_at = ended_at")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.alter_column("stage", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_index(batch_op.f("ix_payment_deadline_at"))
        batch_op.create_index("ix_payment_stage_deadline_at", ["stage", "deadline_at"], unique=False)
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.String(length=10), existing_nullable=False
        )
        batch_op.drop_column("ended_at")
        batch_op.drop_column("outcome")
        batch_op.drop_column("step")
    # Deposits lived in the gateway before: those made since cannot go back there.
    op.drop_table("deposit")
