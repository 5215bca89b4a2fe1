"""orders fill in parts: a trade per fill, the batch being settled

Revision ID: 6fd2d77e4cdb
Revises: cc8e27c8c6da
Create Date: 2026-12-01 00:14:22.135483
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6fd2d77e4cdb"
down_revision: str | Sequence[str] | None = "cc8e27c8c6da"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filled_quantity", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("leg", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("pending_fills", sa.JSON(), nullable=True))
    # Orders filled before partial fills filled whole.
    op.execute("UPDATE security_order SET filled_quantity = quantity WHERE outcome = 'completed'")

    with op.batch_alter_table("trade", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_trade_order_id"), type_="unique")
        batch_op.create_index("ix_trade_order_id", ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trade", schema=None) as batch_op:
        batch_op.drop_index("ix_trade_order_id")
        batch_op.create_unique_constraint(batch_op.f("uq_trade_order_id"), ["order_id"])

    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.drop_column("pending_fills")
        batch_op.drop_column("leg")
        batch_op.drop_column("filled_quantity")
