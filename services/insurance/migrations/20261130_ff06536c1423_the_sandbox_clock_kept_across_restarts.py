"""the sandbox clock kept across restarts

Revision ID: ff06536c1423
Revises: 25348e9e40ae
Create Date: 2026-11-30 15:33:07.094619
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ff06536c1423"
down_revision: str | Sequence[str] | None = "25348e9e40ae"
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
