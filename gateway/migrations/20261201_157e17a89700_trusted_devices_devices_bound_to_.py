"""trusted devices: devices bound to customers, sessions that began on a new one

Revision ID: 157e17a89700
Revises: c2c4ba3428cd
Create Date: 2026-12-01 04:20:41.351249
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "157e17a89700"
down_revision: str | Sequence[str] | None = "c2c4ba3428cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index("ix_device_user_id_device_id", ["user_id", "device_id"], unique=True)

    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("new_device_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("new_device_until")

    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index("ix_device_user_id_device_id")

    op.drop_table("device")
