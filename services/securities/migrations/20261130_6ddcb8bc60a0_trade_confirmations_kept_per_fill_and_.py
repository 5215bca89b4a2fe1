"""trade confirmations kept per fill, and when an order matched

Revision ID: 6ddcb8bc60a0
Revises: 4d2ce40f3ffd
Create Date: 2026-11-30 19:37:56.031385
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6ddcb8bc60a0"
down_revision: str | Sequence[str] | None = "4d2ce40f3ffd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trade",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=12), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price_milli", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("commission_minor", sa.BigInteger(), nullable=False),
        sa.Column("stamp_duty_minor", sa.BigInteger(), nullable=False),
        sa.Column("transfer_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("realised_pnl_minor", sa.BigInteger(), nullable=True),
        sa.Column("trade_day", sa.Date(), nullable=False),
        sa.Column("traded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_trade")),
        sa.UniqueConstraint("id", name=op.f("uq_trade_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_trade_order_id")),
    )
    with op.batch_alter_table("trade", schema=None) as batch_op:
        batch_op.create_index("ix_trade_customer_seq", ["customer_id", "seq"], unique=False)
        batch_op.create_index("ix_trade_customer_symbol_day", ["customer_id", "symbol", "trade_day"], unique=False)

    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.drop_column("matched_at")

    with op.batch_alter_table("trade", schema=None) as batch_op:
        batch_op.drop_index("ix_trade_customer_symbol_day")
        batch_op.drop_index("ix_trade_customer_seq")

    op.drop_table("trade")
