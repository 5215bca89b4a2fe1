"""the sandbox clock kept across restarts

Revision ID: 4d2ce40f3ffd
Revises: 32bd66e3c823
Create Date: 2026-11-30 15:33:05.054818
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d2ce40f3ffd"
down_revision: str | Sequence[str] | None = "32bd66e3c823"
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
