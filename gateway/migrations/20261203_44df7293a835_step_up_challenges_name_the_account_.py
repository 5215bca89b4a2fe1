"""step-up challenges name the account they approve paying from

Revision ID: 44df7293a835
Revises: 39e14f5ac62b
Create Date: 2026-12-03 07:50:27.273904
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "44df7293a835"
down_revision: str | Sequence[str] | None = "39e14f5ac62b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("challenge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payer", sa.String(length=64), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("challenge", schema=None) as batch_op:
        batch_op.drop_column("payer")
