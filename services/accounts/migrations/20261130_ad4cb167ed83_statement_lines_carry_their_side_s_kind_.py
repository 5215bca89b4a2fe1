"""Statement lines carry their side's kind and description, entries their business object

Revision ID: ad4cb167ed83
Revises: 9586cded1a5d
Create Date: 2026-11-30 12:39:02.755202
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ad4cb167ed83"
down_revision: str | Sequence[str] | None = "9586cded1a5d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before stay NULL: services/accounts/statements.py reads them from the
    # entry's one description.
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("reference_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("journal_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("description", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journal_line", schema=None) as batch_op:
        batch_op.drop_column("description")
        batch_op.drop_column("kind")

    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.drop_column("reference_id")
        batch_op.drop_column("reference_kind")
