"""Event envelope, typed message schemas and topic names: one place, versioned."""

from shared.events import accounts, payments, topics
from shared.events import insurance as insurance
from shared.events import securities as securities
from shared.events.envelope import REGISTRY, Envelope, Message, UnknownMessageType, new_id, utcnow

__all__ = [
    "REGISTRY",
    "Envelope",
    "Message",
    "UnknownMessageType",
    "accounts",
    "new_id",
    "payments",
    "topics",
    "utcnow",
]
