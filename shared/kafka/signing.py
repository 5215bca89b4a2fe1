"""Who sent a Kafka message, proven: every message carries its sender's tags, one for each
process that may read it.

The broker authenticates nobody (docs/adr/0011-message-signatures.md), so the envelope's
`source` is only a claim. At publish time the producer adds two headers: `signer`, the
sending process, and `macs`, one tag per process of the stack over the topic, the key and
the value, each under the link key the sender shares with that process (shared/keys.py,
docs/adr/0020-message-macs-over-link-keys.md): `accounts=<base64>,gateway=<base64>,...`.
A consumer applies a message only if its own tag verifies under the key it shares with the
signer, the envelope's `source` is the signer, and the signer is one of the senders the
message's schema names (`Message.senders()`); anything else is dead-lettered with the
reason, never retried. The topic and key are covered with the value, so a signed command
cannot be replayed on another topic or for another key.

A link key is known to its two processes only, so a tag proves the sender to its reader
and to nobody else: a compromised process can forge messages only to itself. A message
signed before the tags (an Ed25519 `signature` header, a dead letter kept from then) is
still checked against the signer's public key.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Mapping

from shared.events.envelope import Envelope, senders
from shared.keys import Keyring

SIGNER = "signer"
MACS = "macs"
SIGNATURE = "signature"  # Ed25519, before the tags: still checked
# What a dead letter's copy on `<topic>.dlq` calls its sender's headers: the copy itself is
# signed by the process that dead-lettered it.
ORIGINAL_SIGNER = "original-signer"
ORIGINAL_MACS = "original-macs"
ORIGINAL_SIGNATURE = "original-signature"
_SIGNED = frozenset({MACS, SIGNATURE})
# Sets a message signature apart from anything else the same key signs (tokens).
_CONTEXT = b"sandbank-message-v1\0"


class UntrustedSender(Exception):
    """A message whose sender is unproven or not entitled to send it: dead-lettered at
    once with the reason, with no effect. Handlers raise it too, for the finer rules
    (who may credit from an internal account, who may capture a hold)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"untrusted-sender: {reason}")
        self.reason = reason


def signed_bytes(topic: str, key: bytes | None, value: bytes) -> bytes:
    """What a signature covers. Topic names have no NUL, ids make the keys, and orjson
    escapes NUL in a value, so the parts cannot be shifted from one into the next."""
    return b"".join((_CONTEXT, topic.encode(), b"\0", key or b"", b"\0", value))


def sign(keys: Keyring, topic: str, key: bytes | None, value: bytes) -> list[tuple[str, bytes]]:
    """The headers that name `keys`' process as the sender of this message: a tag for every
    process it has a link key with (Keyring.tag: keyed BLAKE2b, about 1.5 µs each, where an
    Ed25519 signature took about 40 µs and its check 120)."""
    data = signed_bytes(topic, key, value)
    parts = []
    for peer, start in keys.taggers:
        mac = start.copy()
        mac.update(data)
        parts.append(b"%s=%s" % (peer, binascii.b2a_base64(mac.digest(), newline=False)))
    return [(SIGNER, keys.name.encode()), (MACS, b",".join(parts))]


def is_signed(headers: list[list[str]] | list[tuple[str, bytes]]) -> bool:
    """Whether a message carries its sender's tags or signature already (a dead letter
    replayed). Looked up in C: a producer asks it of every message, and `any()` over a
    generator cost a fifth of signing one."""
    return not _SIGNED.isdisjoint(dict(headers))


def verified_signer(
    keys: Keyring, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes | None]
) -> str:
    """The process that signed this message for `keys`' process, or UntrustedSender saying
    why not."""
    signer, macs, signature = headers.get(SIGNER), headers.get(MACS), headers.get(SIGNATURE)
    if not signer or not (macs or signature):
        raise UntrustedSender("no signature")
    name = signer.decode(errors="replace")
    if name not in keys.public:
        raise UntrustedSender(f"signed by unknown process {name!r}")
    data = signed_bytes(topic, key, value)
    if not macs:
        return _signed_before_tags(keys, name, data, signature or b"")
    tag = _tag_for(keys.name, macs)
    if tag is None:
        raise UntrustedSender(f"no signature for {keys.name} claiming {name}")
    try:
        raw = b64decode(tag, validate=True)
    except (binascii.Error, ValueError):
        raise UntrustedSender(f"malformed signature claiming {name}") from None
    expected = keys.tag(name, data)
    if expected is None or not hmac.compare_digest(raw, expected):
        raise UntrustedSender(f"bad signature claiming {name}")
    return name


def _tag_for(reader: str, macs: bytes) -> bytes | None:
    """`reader`'s tag in a `macs` header, as base64."""
    prefix = reader.encode() + b"="
    for part in macs.split(b","):
        if part.startswith(prefix):
            return part[len(prefix) :]
    return None


def _signed_before_tags(keys: Keyring, name: str, data: bytes, signature: bytes) -> str:
    try:
        raw = b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise UntrustedSender(f"malformed signature claiming {name}") from None
    if not keys.verify(name, data, raw):
        raise UntrustedSender(f"bad signature claiming {name}")
    return name


def check_sender(envelope: Envelope, signer: str) -> None:
    """The verified signer must be the envelope's source and one of the message's senders."""
    if envelope.source != signer:
        raise UntrustedSender(f"signed by {signer} but claims source {envelope.source}")
    allowed = senders(envelope.type)
    if signer not in allowed:
        raise UntrustedSender(
            f"{signer} may not send {envelope.type} (its senders: {', '.join(sorted(allowed)) or 'none'})"
        )
