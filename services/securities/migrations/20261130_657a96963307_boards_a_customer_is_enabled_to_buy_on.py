"""boards a customer is enabled to buy on

Revision ID: 657a96963307
Revises: 6ddcb8bc60a0
Create Date: 2026-11-30 19:55:32.275992
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "657a96963307"
down_revision: str | Sequence[str] | None = "6ddcb8bc60a0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board_permission",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("board", sa.String(length=12), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "board", name=op.f("pk_board_permission")),
    )


def downgrade() -> None:
    op.drop_table("board_permission")
