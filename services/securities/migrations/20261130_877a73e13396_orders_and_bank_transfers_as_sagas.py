"""Orders and bank-securities transfers as sagas: the saga primitive's columns (kind, step,
deadline_at, outcome, correlation_id, ended_at) replace status, step_deadline_at, settled
and filled_at. Each row's state is carried across, both ways.

Revision ID: 877a73e13396
Revises: 848305a793d2
Create Date: 2026-11-30 09:56:38.409316
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "877a73e13396"
down_revision: str | Sequence[str] | None = "848305a793d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CANCEL_REASONS = ("customer", "expired")

order = sa.table(
    "security_order",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("step", sa.String),
    sa.column("reason", sa.String),
    sa.column("outcome", sa.String),
    sa.column("bank_day", sa.Date),
    sa.column("settled", sa.Boolean),
    sa.column("deadline_at", sa.DateTime(timezone=True)),
    sa.column("step_deadline_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("filled_at", sa.DateTime(timezone=True)),
    sa.column("ended_at", sa.DateTime(timezone=True)),
)
transfer = sa.table(
    "bank_transfer",
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("step", sa.String),
    sa.column("outcome", sa.String),
    sa.column("deadline_at", sa.DateTime(timezone=True)),
    sa.column("step_deadline_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("ended_at", sa.DateTime(timezone=True)),
)


def _session_end(day: date) -> datetime:
    # Midnight in Beijing after the order's bank day: the day order's end in the default
    # hours mode. An `a_share` order then expires at midnight instead of the 15:00 close;
    # the market is shut between the two, so nothing fills in between.
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo("Asia/Shanghai"))
    return midnight.astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("bank_transfer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("step", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column(
            "step", existing_type=sa.VARCHAR(length=10), type_=sa.String(length=20), existing_nullable=True
        )

    # A transfer pending is at its one step; a finished one has its status as its outcome.
    op.execute(transfer.update().values(kind="bank_transfer"))
    op.execute(
        transfer.update()
        .where(transfer.c.status == "pending")
        .values(step="transfer", deadline_at=transfer.c.step_deadline_at)
    )
    op.execute(
        transfer.update()
        .where(transfer.c.status != "pending")
        .values(outcome=transfer.c.status, ended_at=transfer.c.updated_at)
    )
    # An order in flight keeps its step (reserve, capture, credit, release) and deadline;
    # an accepted one rests until its session ends; a final one ends with its outcome.
    op.execute(order.update().values(kind="order", deadline_at=order.c.step_deadline_at))
    for outcome, status in (("completed", "filled"), ("cancelled", "cancelled"), ("failed", "rejected")):
        op.execute(
            order.update()
            .where(order.c.status == status)
            .values(
                outcome=outcome,
                ended_at=sa.func.coalesce(order.c.filled_at, order.c.updated_at),
                step=None,
                deadline_at=None,
            )
        )
    bind = op.get_bind()
    accepted = bind.execute(sa.select(order.c.id, order.c.bank_day).where(order.c.status == "accepted")).all()
    for order_id, day in accepted:
        bind.execute(order.update().where(order.c.id == order_id).values(step="rest", deadline_at=_session_end(day)))

    with op.batch_alter_table("bank_transfer", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_index(batch_op.f("ix_bank_transfer_step_deadline_at"))
        batch_op.create_index(batch_op.f("ix_bank_transfer_deadline_at"), ["deadline_at"], unique=False)
        batch_op.drop_column("status")
        batch_op.drop_column("step_deadline_at")
    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_index(batch_op.f("ix_security_order_status_symbol"))
        batch_op.drop_index(batch_op.f("ix_security_order_step_deadline_at"))
        batch_op.create_index(batch_op.f("ix_security_order_deadline_at"), ["deadline_at"], unique=False)
        batch_op.create_index("ix_security_order_step_symbol", ["step", "symbol"], unique=False)
        batch_op.drop_column("filled_at")
        batch_op.drop_column("status")
        batch_op.drop_column("step_deadline_at")
        batch_op.drop_column("settled")


def downgrade() -> None:
    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settled", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("step_deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("bank_transfer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=10), nullable=True))

    op.execute(
        transfer.update().values(
            status=sa.func.coalesce(transfer.c.outcome, "pending"),
            step_deadline_at=sa.case((transfer.c.outcome.is_(None), transfer.c.deadline_at)),
        )
    )
    # The public status the saga columns stand for (domain.order_status).
    releasing = order.c.step == "release"
    refused = sa.and_(releasing, sa.or_(order.c.reason.is_(None), order.c.reason.not_in(CANCEL_REASONS)))
    status = sa.case(
        (order.c.outcome == "completed", "filled"),
        (order.c.outcome == "cancelled", "cancelled"),
        (order.c.outcome.is_not(None), "rejected"),
        (order.c.step == "reserve", "pending"),
        (order.c.step == "rest", "accepted"),
        (order.c.step.in_(["capture", "credit"]), "filling"),
        (sa.and_(releasing, order.c.reason.in_(CANCEL_REASONS)), "cancelling"),
        else_="rejected",
    )
    completed = order.c.outcome == "completed"
    in_flight = order.c.step.in_(["reserve", "capture", "credit", "release"])
    op.execute(
        order.update().values(
            status=status,
            settled=sa.case((completed, sa.true()), else_=sa.false()),
            filled_at=sa.case((completed, order.c.ended_at)),
            step_deadline_at=sa.case((in_flight, order.c.deadline_at)),
        )
    )
    # The old shape had no step while resting, nor once refused (its release was sent then).
    op.execute(order.update().where(sa.or_(order.c.step == "rest", refused)).values(step=None, step_deadline_at=None))

    with op.batch_alter_table("security_order", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=10), nullable=False)
        batch_op.alter_column("settled", existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_index("ix_security_order_step_symbol")
        batch_op.drop_index(batch_op.f("ix_security_order_deadline_at"))
        batch_op.create_index(batch_op.f("ix_security_order_step_deadline_at"), ["step_deadline_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_order_status_symbol"), ["status", "symbol"], unique=False)
        batch_op.alter_column(
            "step", existing_type=sa.String(length=20), type_=sa.VARCHAR(length=10), existing_nullable=True
        )
        batch_op.drop_column("ended_at")
        batch_op.drop_column("correlation_id")
        batch_op.drop_column("outcome")
        batch_op.drop_column("deadline_at")
        batch_op.drop_column("kind")
    with op.batch_alter_table("bank_transfer", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_index(batch_op.f("ix_bank_transfer_deadline_at"))
        batch_op.create_index(batch_op.f("ix_bank_transfer_step_deadline_at"), ["step_deadline_at"], unique=False)
        batch_op.drop_column("ended_at")
        batch_op.drop_column("correlation_id")
        batch_op.drop_column("outcome")
        batch_op.drop_column("deadline_at")
        batch_op.drop_column("step")
        batch_op.drop_column("kind")
