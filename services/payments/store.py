"""payments tables: one row per payment saga, keyed by payment id (also its hold id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UtcDateTime, new_base
from shared.kafka.messaging import messaging_tables

Base = new_base()
messaging = messaging_tables(Base.metadata)


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        # The gateway's Idempotency-Key, kept here too: a retry that slips past the
        # gateway still finds the payment it already made.
        UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_customer_id_idempotency_key"),
        Index("ix_payment_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_payment_stage_deadline_at", "stage", "deadline_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    stage: Mapped[str] = mapped_column(String(20))
    payer_account_id: Mapped[str] = mapped_column(String(64))
    payer_class: Mapped[str | None] = mapped_column(String(3))
    payee_account_id: Mapped[str] = mapped_column(String(64))
    payee_customer_id: Mapped[str | None] = mapped_column(String(36))
    payee_key: Mapped[str] = mapped_column(String(120), index=True)
    payee_label: Mapped[str] = mapped_column(String(120))
    reference: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(140), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    entry_id: Mapped[str | None] = mapped_column(String(36))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- the saga's hot path, in Core --------------------------------------------------------
# A consumer batch or a group of requests writes its sagas with one statement each way,
# instead of an ORM flush per object (about 300 us each here). Sagas on this path are
# plain, never-attached `Payment` objects.

_table = Payment.__table__
_COLUMNS = [c.key for c in _table.c]
# What a saga step may change; the rest is fixed when the payment is requested.
_MUTABLE = ("stage", "reason", "detail", "attempts", "deadline_at", "entry_id", "updated_at", "completed_at")

INSERT = insert(_table)
UPDATE = (
    update(_table).where(_table.c.id == bindparam("b_id")).values({name: bindparam(f"b_{name}") for name in _MUTABLE})
)


def row_of(payment: Payment) -> dict[str, Any]:
    """Every column of a new payment, for INSERT."""
    return {name: getattr(payment, name) for name in _COLUMNS}


def changes_of(payment: Payment) -> dict[str, Any]:
    """The saga's current step, for UPDATE."""
    return {"b_id": payment.id} | {f"b_{name}": getattr(payment, name) for name in _MUTABLE}


async def load_sagas(session: AsyncSession, ids: set[str]) -> dict[str, Payment]:
    """Sagas by id as unattached objects, locked FOR UPDATE on PostgreSQL (SQLite's single
    writer already excludes the timeout sweeper)."""
    rows = (await session.execute(select(_table).where(_table.c.id.in_(ids)).with_for_update())).mappings().all()
    return {row["id"]: Payment(**row) for row in rows}
