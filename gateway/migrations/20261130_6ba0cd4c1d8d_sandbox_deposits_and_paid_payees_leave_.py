"""Sandbox deposits and paid payees leave the gateway: payments runs deposits and knows who paid whom

Revision ID: 6ba0cd4c1d8d
Revises: e1b8fed84d4e
Create Date: 2026-11-30 10:00:16.144757
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6ba0cd4c1d8d"
down_revision: str | Sequence[str] | None = "e1b8fed84d4e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A deposit still pending here is settled by nobody after the upgrade; a sandbox's
    # deposits are test money, and payments keeps every deposit made from now on.
    op.drop_index("ix_deposit_customer_id", table_name="deposit")
    op.drop_table("deposit")
    op.drop_table("paid_payee")


def downgrade() -> None:
    op.create_table(
        "paid_payee",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("payee", sa.String(length=100), nullable=False),
        sa.Column("first_paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "payee", name=op.f("pk_paid_payee")),
    )
    op.create_table(
        "deposit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit")),
    )
    op.create_index("ix_deposit_customer_id", "deposit", ["customer_id"])
