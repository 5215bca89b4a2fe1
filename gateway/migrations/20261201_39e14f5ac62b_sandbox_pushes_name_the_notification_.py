"""sandbox pushes name the notification they carry

Revision ID: 39e14f5ac62b
Revises: 157e17a89700
Create Date: 2026-12-01 10:57:37.265945
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "39e14f5ac62b"
down_revision: str | Sequence[str] | None = "157e17a89700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_push", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notification_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_push", schema=None) as batch_op:
        batch_op.drop_column("notification_id")
