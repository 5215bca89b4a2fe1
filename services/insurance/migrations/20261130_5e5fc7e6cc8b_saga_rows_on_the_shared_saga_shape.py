"""saga rows on the shared saga shape

The premium, payout and refund sagas move to the saga primitive's columns: a pending
step is named after its command (`reserving` becomes `reserve`, ...) with its deadline in
`deadline_at` (was `next_attempt_at`); an ended one has no step but an `outcome`
(`done` becomes `completed`, `failed` stays `failed`) and an `ended_at`.

Revision ID: 5e5fc7e6cc8b
Revises: 96f41d150525
Create Date: 2026-11-30 09:48:16.111487
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e5fc7e6cc8b"
down_revision: str | Sequence[str] | None = "96f41d150525"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The steps a saga waits at, before and after.
STEPS = {"reserving": "reserve", "capturing": "capture", "releasing": "release", "crediting": "credit"}
# How a saga ended, before (its step) and after (its outcome).
ENDS = {"done": "completed", "failed": "failed"}


def upgrade() -> None:
    with op.batch_alter_table("saga", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column(
            "kind", existing_type=sa.VARCHAR(length=10), type_=sa.String(length=20), existing_nullable=False
        )
        batch_op.alter_column("step", existing_type=sa.VARCHAR(length=12), type_=sa.String(length=20), nullable=True)
    for old, new in STEPS.items():
        op.execute(
            sa.text("UPDATE saga SET step = :new, deadline_at = next_attempt_at WHERE step = :old").bindparams(
                new=new, old=old
            )
        )
    for old, outcome in ENDS.items():
        op.execute(
            sa.text(
                "UPDATE saga SET step = NULL, outcome = :outcome, ended_at = updated_at WHERE step = :old"
            ).bindparams(outcome=outcome, old=old)
        )
    with op.batch_alter_table("saga", schema=None) as batch_op:
        batch_op.drop_index("ix_saga_step_next_attempt_at")
        batch_op.create_index(batch_op.f("ix_saga_deadline_at"), ["deadline_at"], unique=False)
        batch_op.drop_column("next_attempt_at")


def downgrade() -> None:
    with op.batch_alter_table("saga", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    for old, new in STEPS.items():
        op.execute(
            sa.text("UPDATE saga SET step = :old, next_attempt_at = deadline_at WHERE step = :new").bindparams(
                new=new, old=old
            )
        )
    for old, outcome in ENDS.items():
        op.execute(
            sa.text(
                "UPDATE saga SET step = :old, next_attempt_at = updated_at WHERE step IS NULL AND outcome = :outcome"
            ).bindparams(outcome=outcome, old=old)
        )
    with op.batch_alter_table("saga", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saga_deadline_at"))
        batch_op.alter_column("next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("step", existing_type=sa.String(length=20), type_=sa.VARCHAR(length=12), nullable=False)
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.VARCHAR(length=10), existing_nullable=False
        )
        batch_op.create_index("ix_saga_step_next_attempt_at", ["step", "next_attempt_at"], unique=False)
        batch_op.drop_column("ended_at")
        batch_op.drop_column("correlation_id")
        batch_op.drop_column("outcome")
        batch_op.drop_column("deadline_at")
