"""outbox rows kept once published for re-publishing

The relay marks a row published instead of deleting it and keeps it for its retention,
so a broker that comes back empty gets it again (ADR 0013).

Revision ID: 25348e9e40ae
Revises: ea6f96d978cd
Create Date: 2026-11-30 14:26:04.479384
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "25348e9e40ae"
down_revision: str | Sequence[str] | None = "ea6f96d978cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_outbox_unpublished",
            ["id"],
            unique=False,
            sqlite_where=sa.text("published_at IS NULL"),
            postgresql_where=sa.text("published_at IS NULL"),
        )


def downgrade() -> None:
    # Without the column a published row would read as waiting and go out again.
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unpublished",
            sqlite_where=sa.text("published_at IS NULL"),
            postgresql_where=sa.text("published_at IS NULL"),
        )
        batch_op.drop_column("published_at")
