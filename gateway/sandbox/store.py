"""The sandbox feature's tables: the inbox of text messages the bank "sent" to phones, and the
log of the pushes it "sent" to their registered devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
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


class SandboxPush(Base):
    """A notification pushed to one registered device: the sandbox's push provider. Written
    only in sandbox mode, in the transaction that stores the notification."""

    __tablename__ = "sandbox_push"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    # The notification pushed; None on pushes logged before pushes carried it.
    notification_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(8))  # apns | fcm
    token: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_sandbox_push_customer_id_id", "customer_id", "id"), {"sqlite_autoincrement": True})
