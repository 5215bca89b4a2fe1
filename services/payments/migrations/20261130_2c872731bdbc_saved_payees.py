"""saved payees

Revision ID: 2c872731bdbc
Revises: e744d6a8e2bc
Create Date: 2026-11-30 12:41:01.387990
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c872731bdbc"
down_revision: str | Sequence[str] | None = "e744d6a8e2bc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_payee",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("nickname", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("payee_ref", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_payee")),
        sa.UniqueConstraint("customer_id", "payee_ref", name="uq_saved_payee_customer_id_payee_ref"),
    )
    with op.batch_alter_table("saved_payee", schema=None) as batch_op:
        batch_op.create_index("ix_saved_payee_customer_id_created_at", ["customer_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("saved_payee", schema=None) as batch_op:
        batch_op.drop_index("ix_saved_payee_customer_id_created_at")

    op.drop_table("saved_payee")
