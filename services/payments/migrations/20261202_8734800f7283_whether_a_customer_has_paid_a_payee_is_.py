"""whether a customer has paid a payee is read from an index of the pair

Revision ID: 8734800f7283
Revises: fdefa90ceca2
Create Date: 2026-12-02 09:23:04.304875
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8734800f7283"
down_revision: str | Sequence[str] | None = "fdefa90ceca2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_payee_key"))
        batch_op.create_index("ix_payment_payee_key_customer_id", ["payee_key", "customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_payee_key_customer_id")
        batch_op.create_index(batch_op.f("ix_payment_payee_key"), ["payee_key"], unique=False)
