"""Dead letters keep their headers, with their sender's signature

Revision ID: a4a238ec2091
Revises: 0a99d0235b4e
Create Date: 2026-11-30 11:45:24.423215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4a238ec2091"
down_revision: str | Sequence[str] | None = "0a99d0235b4e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_column("headers")
