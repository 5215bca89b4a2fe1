"""payments tables: one row per payment saga, keyed by payment id (also its hold id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
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
