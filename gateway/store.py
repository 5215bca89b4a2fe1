"""Every table of the gateway's one database, each defined by its feature's store, and the
schema revisions (gateway/migrations) that build them: what start-up and
`sandbank migration gateway` need all at once."""

from __future__ import annotations

from pathlib import Path

from gateway.db import Base, messaging
from gateway.identity.store import (
    Challenge,
    LoginAttempt,
    RefreshToken,
    Registration,
    Session,
    SessionActivity,
    User,
)
from gateway.notifications.store import Notification, NotificationPreference, PushToken, WatchedSymbol
from gateway.routing.store import IdempotencyKey
from gateway.sandbox.store import SandboxMessage, SandboxPush
from gateway.webhooks.store import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from shared.migrations import Migrations

migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))

__all__ = [
    "Base",
    "Challenge",
    "IdempotencyKey",
    "LoginAttempt",
    "Notification",
    "NotificationPreference",
    "PushToken",
    "RefreshToken",
    "Registration",
    "SandboxMessage",
    "SandboxPush",
    "Session",
    "SessionActivity",
    "User",
    "WatchedSymbol",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "messaging",
    "migrations",
]
