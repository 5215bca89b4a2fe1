"""payers' KYC classes as accounts announces them

Revision ID: fdefa90ceca2
Revises: baa6f379579a
Create Date: 2026-12-01 04:03:34.188440
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fdefa90ceca2"
down_revision: str | Sequence[str] | None = "baa6f379579a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payer_class",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("kyc_class", sa.String(length=8), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_payer_class")),
    )


def downgrade() -> None:
    op.drop_table("payer_class")
