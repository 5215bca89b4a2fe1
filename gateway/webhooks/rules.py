"""The rules of webhooks, without I/O: which endpoint URLs are taken, which event types
exist and which an endpoint wants, what a delivery's body is, how long to wait before
trying again, and which secrets sign a delivery."""

from __future__ import annotations

import ipaddress
import secrets as random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson

from gateway.errors import Refused
from gateway.notifications.notify import KINDS
from shared.webhooks import SECRET_PREFIX

# Every notification kind is an event type; "*" is every one of them.
ALL = "*"
EVENT_TYPES = KINDS
# Sent by `POST .../test` whatever the endpoint subscribed to.
TEST_EVENT = "webhook_test"
MAX_URL_LENGTH = 2048
# A receiver's answer is kept up to this many bytes in the attempt log.
EXCERPT_BYTES = 1024


class InvalidEndpoint(Refused):
    code = "invalid-endpoint"


class UnknownEventType(Refused):
    code = "unknown-event-type"


class TooManyEndpoints(Refused):
    code = "too-many-endpoints"


class EndpointNotFound(Refused):
    code = "not-found"


class DeliveryNotFound(Refused):
    code = "not-found"


def check_url(url: str, *, local_allowed: bool = True) -> str:
    """An endpoint's URL: absolute http or https, with a host, no user or password in it
    (they would be logged and shown), no fragment, at most 2048 characters. Loopback and
    private addresses are allowed in a sandbox, where the receiver is usually the
    developer's own machine (`sandbank listen`); elsewhere (`local_allowed=False`) a URL
    naming one is refused, so an endpoint cannot make the gateway call the bank's own
    network. A name that resolves to such an address is not caught here."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidEndpoint(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidEndpoint("the URL has spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidEndpoint(f"the URL cannot be read: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidEndpoint("the URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidEndpoint("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpoint("the URL may not carry a user name or password: verify deliveries by their signature")
    if parts.fragment:
        raise InvalidEndpoint("the URL may not have a #fragment: it is never sent")
    if port == 0:
        raise InvalidEndpoint("the URL's port must be 1 to 65535")
    if not local_allowed and _local(parts.hostname):
        raise InvalidEndpoint("the URL names a loopback, private or reserved address: only a sandbox delivers there")
    return url


def _local(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global or address.is_multicast


def check_events(events: Sequence[str]) -> list[str]:
    """The event types an endpoint subscribes to, each once, in the order given."""
    unknown = sorted({e for e in events if e != ALL and e not in EVENT_TYPES})
    if unknown:
        raise UnknownEventType(
            f"no event type {', '.join(unknown)}; the types are {', '.join(EVENT_TYPES)}, or {ALL} for every one",
            event_types=unknown,
        )
    if not events:
        raise UnknownEventType("name at least one event type, or * for every one")
    return list(dict.fromkeys(events))


def wants(subscribed: Iterable[str], event_type: str) -> bool:
    return any(s in (ALL, event_type) for s in subscribed)


def new_secret() -> str:
    return SECRET_PREFIX + random.token_urlsafe(32)


def new_event_id() -> str:
    return "evt_" + random.token_hex(12)


def event_body(event_id: str, event_type: str, created: datetime, data: dict[str, Any]) -> bytes:
    """What a delivery POSTs: `created` is the sandbox clock's Unix time of the event."""
    return orjson.dumps({"id": event_id, "type": event_type, "created": int(created.timestamp()), "data": data})


def notification_data(notification: dict[str, Any]) -> dict[str, Any]:
    """An event's `data`: the notification's facts, its words, whose it is, and which it
    is (its id in `GET /v1/notifications`)."""
    return {
        "title": notification["title"],
        "body": notification["body"],
        **notification["data"],
        "customer_id": notification["customer_id"],
        "notification_id": notification["id"],
    }


def retry_delay_s(attempts: int, base_s: float, cap_s: float) -> float:
    """How long after the `attempts`-th failed attempt the next one is made: base, 2 x
    base, 4 x base ..., never more than the cap."""
    return float(min(base_s * 2 ** max(attempts - 1, 0), cap_s))


@dataclass(frozen=True)
class Outcome:
    status: str  # "succeeded", "pending" (tried again at `next_at`) or "failed"
    next_at: datetime | None


def after_attempt(
    attempts: int, succeeded: bool, now: datetime, *, max_attempts: int, base_s: float, cap_s: float
) -> Outcome:
    """Where a delivery stands after its `attempts`-th attempt."""
    if succeeded:
        return Outcome("succeeded", None)
    if attempts >= max_attempts:
        return Outcome("failed", None)
    return Outcome("pending", now + timedelta(seconds=retry_delay_s(attempts, base_s, cap_s)))


def signing_secrets(current: str, previous: str | None, previous_until: datetime | None, now: datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, and during a rotation's
    grace period the one it replaced, so a receiver not yet updated still verifies."""
    if previous and previous_until is not None and now < previous_until:
        return [current, previous]
    return [current]


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300
