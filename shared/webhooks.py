"""Signed webhooks: how Sandbank signs a delivery and how a receiver checks it.

A delivery is an HTTP POST whose body is the event as JSON. Its `Sandbank-Signature`
header reads `t=<unix seconds>,v1=<hex>` where each `v1` is HMAC-SHA256, keyed with an
endpoint's signing secret (the whole `whsec_...` string, as UTF-8), over
`"<t>." + body`. While a secret is being rotated a delivery carries one `v1` per secret
still valid, so a receiver holding either verifies it (the scheme Stripe uses).

Pure and dependency-free: the gateway signs with it, a receiver (and a test suite)
verifies with `verify`. docs/webhooks.md has the same recipe for other languages.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "Sandbank-Signature"
ID_HEADER = "Sandbank-Webhook-Id"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


class WebhookVerificationError(ValueError):
    """The delivery is not one to trust: a malformed header, no matching signature, or a
    timestamp outside the tolerance (a replayed or delayed request)."""


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>." + payload` keyed with `secret`."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """The `Sandbank-Signature` header value: one `v1` per secret, the newest first."""
    parts = [f"t={timestamp}", *(f"{SCHEME}={signature(payload, s, timestamp)}" for s in secrets)]
    if len(parts) == 1:
        raise ValueError("at least one secret signs a delivery")
    return ",".join(parts)


def parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the `v1` signatures of a header; other schemes are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isascii() or not value.isdigit():
                raise WebhookVerificationError("the signature header's timestamp is not a number")
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise WebhookVerificationError("the signature header has no timestamp")
    if not signatures:
        raise WebhookVerificationError(f"the signature header has no {SCHEME} signature")
    return timestamp, signatures


def verify(
    payload: bytes, header: str, secret: str, tolerance_s: float = DEFAULT_TOLERANCE_S, now: float | None = None
) -> int:
    """Check a delivery: `payload` the raw body as received (before any JSON parsing),
    `header` its `Sandbank-Signature`, `secret` the endpoint's signing secret. Answers the
    signed timestamp; raises `WebhookVerificationError` when no signature matches or the
    timestamp is more than `tolerance_s` from `now` (default: the current time)."""
    timestamp, signatures = parse(header)
    expected = signature(payload, secret, timestamp)
    # compare_digest: the time taken must not tell an attacker how much of a guess was right.
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise WebhookVerificationError("no signature matches the payload and secret")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError(f"the timestamp is {current - timestamp:.0f}s from now, past {tolerance_s:g}s")
    return timestamp
