"""Dead letters keep their headers, with their sender's signature

Revision ID: 839301961f25
Revises: d1f40aaab2b0
Create Date: 2026-11-30 11:45:42.340874
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "839301961f25"
down_revision: str | Sequence[str] | None = "d1f40aaab2b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_column("headers")
