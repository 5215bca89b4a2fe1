"""Gateway tables: credentials, sessions and refresh tokens, login lockouts, step-up
challenges, idempotency keys, sandbox deposits, customers' notifications, watchlists
and paid payees, and the gateway's own outbox / inbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, naming_metadata
from shared.kafka.messaging import messaging_tables
from shared.migrations import Migrations


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))


class User(Base):
    """A login: a customer (same id as in accounts), an operator or an adjuster."""

    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Session(Base):
    """A login on one device; refresh tokens rotate within it."""

    __tablename__ = "session"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    device_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(Base):
    """Every refresh token a session was given; a used one presented again means it
    leaked, and the whole session is revoked."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IdempotencyKey(Base):
    """IETF Idempotency-Key draft: per customer, the fingerprint of the first request
    and, once done, the response to replay."""

    __tablename__ = "idempotency_key"

    owner_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # in_flight | done
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Deposit(Base):
    """A sandbox cash-in: sent to accounts as CreditAccount, settled by its reply."""

    __tablename__ = "deposit"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))  # pending | completed | failed
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionActivity(Base):
    """When a session last made an authenticated request (written in batches, so to
    within a few seconds)."""

    __tablename__ = "session_activity"

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginAttempt(Base):
    """Wrong passwords for a phone number (known or not) since its last good login."""

    __tablename__ = "login_attempt"

    phone: Mapped[str] = mapped_column(String(30), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Challenge(Base):
    """A step-up challenge: a one-time code (kept as an HMAC) that approves one
    money-moving request, bound to its customer, operation, payee, amount and key."""

    __tablename__ = "challenge"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    operation: Mapped[str] = mapped_column(String(20))  # transfer | bill | qr | topup
    payee: Mapped[str] = mapped_column(String(600))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(20))  # amount | new_payee
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # pending | approved | locked
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_challenge_customer_key", "customer_id", "idempotency_key"),)


class Notification(Base):
    """Something a customer cares about. The id grows with every row, so it doubles as
    the Server-Sent Events id a reconnecting phone resumes from."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_id: Mapped[str | None] = mapped_column(String(64))  # the Kafka envelope it came from
    event_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    # AUTOINCREMENT on SQLite: an id is never handed out twice, even after a sandbox reset.
    __table_args__ = (Index("ix_notification_customer_id_id", "customer_id", "id"), {"sqlite_autoincrement": True})


class WatchedSymbol(Base):
    """A symbol on a customer's watchlist: its price alerts become notifications."""

    __tablename__ = "watched_symbol"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(12), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PaidPayee(Base):
    """A payee this customer has completed a transfer to (`account:<id>` and
    `customer:<id>`), learned from payments' PaymentCompleted: step-up's new-payee rule."""

    __tablename__ = "paid_payee"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    payee: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_paid_at: Mapped[datetime] = mapped_column(UtcDateTime)
