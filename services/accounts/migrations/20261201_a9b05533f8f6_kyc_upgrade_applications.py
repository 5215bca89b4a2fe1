"""KYC upgrade applications

Revision ID: a9b05533f8f6
Revises: bdeebb7daa47
Create Date: 2026-12-01 00:19:11.431163
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9b05533f8f6"
down_revision: str | Sequence[str] | None = "bdeebb7daa47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kyc_application",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("legal_name", sa.String(length=100), nullable=False),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("face_match_score", sa.Float(), nullable=False),
        sa.Column("from_class", sa.String(length=3), nullable=False),
        sa.Column("to_class", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_kyc_application_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_application")),
    )
    with op.batch_alter_table("kyc_application", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kyc_application_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_kyc_application_status_created_at", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kyc_application", schema=None) as batch_op:
        batch_op.drop_index("ix_kyc_application_status_created_at")
        batch_op.drop_index(batch_op.f("ix_kyc_application_customer_id"))

    op.drop_table("kyc_application")
