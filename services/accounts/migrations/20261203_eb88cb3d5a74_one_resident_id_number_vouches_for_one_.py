"""One resident ID number vouches for one customer

The keyed digest of the number an approved KYC upgrade binds to a customer (unique), and
the digest on each application. Rows from before stay NULL: the numbers were never kept,
so nothing can be filled in; those customers are simply not bound.

Revision ID: eb88cb3d5a74
Revises: 73c13198021b
Create Date: 2026-12-03 07:49:03.050010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "eb88cb3d5a74"
down_revision: str | Sequence[str] | None = "73c13198021b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_number_digest", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_customer_id_number_digest"), ["id_number_digest"])

    with op.batch_alter_table("kyc_application", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_number_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kyc_application", schema=None) as batch_op:
        batch_op.drop_column("id_number_digest")

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_customer_id_number_digest"), type_="unique")
        batch_op.drop_column("id_number_digest")
