"""Payments keep the payer's masked name; the payee finds the payments paid to them

Revision ID: c12ff1a4f1bc
Revises: a4a238ec2091
Create Date: 2026-11-30 12:43:47.074197
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c12ff1a4f1bc"
down_revision: str | Sequence[str] | None = "a4a238ec2091"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payer_label", sa.String(length=120), server_default="", nullable=False))
        batch_op.create_index(
            "ix_payment_payee_customer_id_created_at", ["payee_customer_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_payee_customer_id_created_at")
        batch_op.drop_column("payer_label")
