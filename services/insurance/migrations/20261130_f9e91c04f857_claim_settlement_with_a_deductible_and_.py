"""claim settlement with a deductible and the adjusters' request for more information

Revision ID: f9e91c04f857
Revises: a5b665fb23c9
Create Date: 2026-11-30 19:48:48.463690
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f9e91c04f857"
down_revision: str | Sequence[str] | None = "a5b665fb23c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("deductible_minor", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("payout_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("info_request", sa.String(length=500), nullable=True))

    with op.batch_alter_table("claim_decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amount_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim_decision", schema=None) as batch_op:
        batch_op.drop_column("amount_minor")

    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_column("info_request")
        batch_op.drop_column("payout_minor")
        batch_op.drop_column("deductible_minor")
        batch_op.drop_column("approved_minor")
