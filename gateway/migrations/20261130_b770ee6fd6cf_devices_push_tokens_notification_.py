"""devices' push tokens, notification preferences and the sandbox push log

Revision ID: b770ee6fd6cf
Revises: 839301961f25
Create Date: 2026-11-30 12:43:59.412228
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b770ee6fd6cf"
down_revision: str | Sequence[str] | None = "839301961f25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preference",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "kind", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "push_token",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "device_id", name=op.f("pk_push_token")),
    )
    with op.batch_alter_table("push_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_token_token"), ["token"], unique=False)

    op.create_table(
        "sandbox_push",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_push")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("sandbox_push", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_push_customer_id_id", ["customer_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sandbox_push", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_push_customer_id_id")

    op.drop_table("sandbox_push")
    with op.batch_alter_table("push_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_token_token"))

    op.drop_table("push_token")
    op.drop_table("notification_preference")
