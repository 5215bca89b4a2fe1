"""accounts carry the freeze a compliance officer put on them

Revision ID: bdeebb7daa47
Revises: 24e909d75292
Create Date: 2026-12-01 00:39:11.449437
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bdeebb7daa47"
down_revision: str | Sequence[str] | None = "24e909d75292"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("freeze_mode", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("freeze_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("frozen_at")
        batch_op.drop_column("freeze_reason")
        batch_op.drop_column("freeze_mode")
