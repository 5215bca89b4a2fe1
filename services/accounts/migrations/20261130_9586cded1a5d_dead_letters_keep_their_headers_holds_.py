"""Dead letters keep their headers; holds record the service that reserved them

Revision ID: 9586cded1a5d
Revises: 92a8e5179349
Create Date: 2026-11-30 11:45:19.775338
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9586cded1a5d"
down_revision: str | Sequence[str] | None = "92a8e5179349"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before stay NULL: a dead letter without headers cannot be replayed (it has
    # no signature to prove its sender), and a hold without its reserver may be settled by
    # any service that runs money sagas (domain.check_entitled).
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))

    with op.batch_alter_table("hold", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved_by", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hold", schema=None) as batch_op:
        batch_op.drop_column("reserved_by")

    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_column("headers")
