"""claim fraud flags and the document checksum look-up

Revision ID: 08e07d452764
Revises: 729cf4417c78
Create Date: 2026-12-01 04:04:07.964634
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "08e07d452764"
down_revision: str | Sequence[str] | None = "729cf4417c78"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_flag",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_flag")),
        sa.UniqueConstraint("claim_id", "rule", name="uq_claim_flag_claim_id_rule"),
    )
    with op.batch_alter_table("claim_document", schema=None) as batch_op:
        batch_op.create_index("ix_claim_document_checksum", ["checksum"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claim_document", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_document_checksum")

    op.drop_table("claim_flag")
