"""claim documents as files: their content type and bytes

Revision ID: 7c3e1a9d4b20
Revises: 7840bab2fd1a
Create Date: 2026-11-30 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c3e1a9d4b20"
down_revision: str | Sequence[str] | None = "7840bab2fd1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_document_content",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_claim_document_content")),
    )
    with op.batch_alter_table("claim_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_type", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim_document", schema=None) as batch_op:
        batch_op.drop_column("content_type")
    op.drop_table("claim_document_content")
