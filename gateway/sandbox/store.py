"""The sandbox feature's table: the inbox of text messages the bank "sent" to phones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from shared.db import UtcDateTime


class SandboxMessage(Base):
    """A text message to a phone number: the sandbox's SMS. Written only in sandbox mode."""

    __tablename__ = "sandbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))  # step_up_code | registration_code
    body: Mapped[str] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_sandbox_message_phone_id", "phone", "id"), {"sqlite_autoincrement": True})
