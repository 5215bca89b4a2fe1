"""the sandbox clock kept across restarts

Revision ID: ef28cb250cbd
Revises: e7017405606c
Create Date: 2026-11-30 15:32:57.767410
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ef28cb250cbd"
down_revision: str | Sequence[str] | None = "e7017405606c"
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
