"""insured person and beneficiaries on a policy

Revision ID: a5b665fb23c9
Revises: 56edbaeea650
Create Date: 2026-11-30 19:45:46.874916
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a5b665fb23c9"
down_revision: str | Sequence[str] | None = "56edbaeea650"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("insured", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("beneficiaries", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.drop_column("beneficiaries")
        batch_op.drop_column("insured")
