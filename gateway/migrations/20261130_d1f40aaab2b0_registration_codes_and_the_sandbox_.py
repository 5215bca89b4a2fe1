"""Registration codes and the sandbox inbox: a code sent to the phone proves it before an
account is made, and one-time codes go to the inbox, not to the notifications

Revision ID: d1f40aaab2b0
Revises: 6ba0cd4c1d8d
Create Date: 2026-11-30 11:40:27.884821
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1f40aaab2b0"
down_revision: str | Sequence[str] | None = "6ba0cd4c1d8d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_registration")),
    )
    op.create_table(
        "sandbox_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_message")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sandbox_message_phone_id", "sandbox_message", ["phone", "id"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_message_phone_id", table_name="sandbox_message")
    op.drop_table("sandbox_message")
    op.drop_table("registration")
