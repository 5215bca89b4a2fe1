"""when a cover bought for a later day started

Revision ID: 0ad17400bd9f
Revises: 2eb5ef2e6d8e
Create Date: 2026-11-30 20:04:59.548849
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0ad17400bd9f"
down_revision: str | Sequence[str] | None = "2eb5ef2e6d8e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cover_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.drop_column("cover_started_at")
