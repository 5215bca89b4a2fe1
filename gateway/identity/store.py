"""The identity feature's tables: credentials, sessions and refresh tokens, login
lockouts, registration codes and step-up challenges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from shared.db import UtcDateTime


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
    # The device was new until then when the session began (gateway/identity/devices.py).
    new_device_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Device(Base):
    """A device a customer logged in on and bound: trusted from `new_until` on (at once
    for their first device), and until then new, with lower payment limits."""

    __tablename__ = "device"
    __table_args__ = (Index("ix_device_user_id_device_id", "user_id", "device_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(100))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime)
    new_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RefreshToken(Base):
    """Every refresh token a session was given; a used one presented again means it
    leaked, and the whole session is revoked."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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


class Registration(Base):
    """A registration under way: the one-time code (kept as an HMAC) sent to the phone
    number, which proves the registrant holds it. Made alike for a number that already has
    an account (with a code nobody is sent), so nothing tells the two apart."""

    __tablename__ = "registration"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # pending | approved | locked
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Challenge(Base):
    """A step-up challenge: a one-time code (kept as an HMAC) that approves one
    money-moving request, bound to its customer, operation, payee, amount, paying account
    and key."""

    __tablename__ = "challenge"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    operation: Mapped[str] = mapped_column(String(20))  # transfer | bill | qr | topup
    payee: Mapped[str] = mapped_column(String(600))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payer: Mapped[str] = mapped_column(String(64), server_default="")  # the paying account; "" for a login
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
