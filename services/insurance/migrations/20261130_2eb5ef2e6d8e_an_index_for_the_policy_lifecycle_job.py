"""an index for the policy lifecycle job

Revision ID: 2eb5ef2e6d8e
Revises: f9e91c04f857
Create Date: 2026-11-30 19:57:04.294842
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2eb5ef2e6d8e"
down_revision: str | Sequence[str] | None = "f9e91c04f857"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.create_index("ix_policy_status_ends_on", ["status", "ends_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_status_ends_on")
