"""Dead letters keep their headers, with their sender's signature

Revision ID: ea6f96d978cd
Revises: 5e5fc7e6cc8b
Create Date: 2026-11-30 11:45:37.007473
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ea6f96d978cd"
down_revision: str | Sequence[str] | None = "5e5fc7e6cc8b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_column("headers")
