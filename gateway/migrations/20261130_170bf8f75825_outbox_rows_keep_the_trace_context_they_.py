"""outbox rows keep the trace context they were written in

The W3C traceparent (and tracestate) of the span a row was written in, so the relay's
publish and the consumer's handling join the request's trace, also after a restart.

Revision ID: 170bf8f75825
Revises: ef28cb250cbd
Create Date: 2026-11-30 19:41:30.332960
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "170bf8f75825"
down_revision: str | Sequence[str] | None = "ef28cb250cbd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_context", sa.String(length=600), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("trace_context")
