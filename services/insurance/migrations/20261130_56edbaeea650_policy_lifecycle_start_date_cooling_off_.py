"""policy lifecycle: start date, cooling-off, renewal and cancellation

Revision ID: 56edbaeea650
Revises: ff06536c1423
Create Date: 2026-11-30 19:34:57.349208
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "56edbaeea650"
down_revision: str | Sequence[str] | None = "ff06536c1423"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_starts_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("cooling_off_days", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("renewal_of", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("renewed_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refund_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("refund_basis", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.drop_column("refund_basis")
        batch_op.drop_column("refund_minor")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("renewed_by")
        batch_op.drop_column("renewal_of")
        batch_op.drop_column("cooling_off_days")
        batch_op.drop_column("requested_starts_on")
