"""Initial schema: every table as `create_all` made it before migrations existed.

Revision ID: 848305a793d2
Revises: (none)
Create Date: 2026-11-30 09:24:13.491108
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "848305a793d2"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_transfer",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("from_account_id", sa.String(length=64), nullable=False),
        sa.Column("to_account_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("step_deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_bank_transfer")),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_bank_transfer_customer_key"),
        sa.UniqueConstraint("id", name=op.f("uq_bank_transfer_id")),
    )
    op.create_index("ix_bank_transfer_customer_seq", "bank_transfer", ["customer_id", "seq"])
    op.create_index(op.f("ix_bank_transfer_step_deadline_at"), "bank_transfer", ["step_deadline_at"])
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter")),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_table(
        "position",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("symbol", sa.String(length=12), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("frozen", sa.BigInteger(), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("realised_pnl_minor", sa.BigInteger(), nullable=False),
        sa.Column("unsettled_day", sa.Date(), nullable=True),
        sa.Column("unsettled_quantity", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "symbol", name=op.f("pk_position")),
    )
    op.create_table(
        "security_order",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=12), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=6), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("limit_price_milli", sa.BigInteger(), nullable=True),
        sa.Column("reserved_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("bank_day", sa.Date(), nullable=False),
        sa.Column("trade_day", sa.Date(), nullable=True),
        sa.Column("fill_price_milli", sa.BigInteger(), nullable=True),
        sa.Column("gross_minor", sa.BigInteger(), nullable=True),
        sa.Column("commission_minor", sa.BigInteger(), nullable=True),
        sa.Column("stamp_duty_minor", sa.BigInteger(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("realised_pnl_minor", sa.BigInteger(), nullable=True),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("step", sa.String(length=10), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("step_deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_security_order")),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_security_order_customer_key"),
        sa.UniqueConstraint("id", name=op.f("uq_security_order_id")),
    )
    op.create_index("ix_security_order_customer_seq", "security_order", ["customer_id", "seq"])
    op.create_index("ix_security_order_status_symbol", "security_order", ["status", "symbol"])
    op.create_index(op.f("ix_security_order_step_deadline_at"), "security_order", ["step_deadline_at"])


def downgrade() -> None:
    op.drop_table("security_order")
    op.drop_table("position")
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("dead_letter")
    op.drop_table("bank_transfer")
