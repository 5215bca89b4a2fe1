"""the sandbox clock kept across restarts

Revision ID: 26240b8a732d
Revises: e312842fab9c
Create Date: 2026-11-30 15:33:02.677768
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "26240b8a732d"
down_revision: str | Sequence[str] | None = "e312842fab9c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_clock")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_clock")
