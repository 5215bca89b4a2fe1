"""Who sent a Kafka message, proven: every message carries its sender's Ed25519 signature.

The broker authenticates nobody (docs/adr/0011-message-signatures.md), so the envelope's
`source` is only a claim. At publish time the producer adds two headers: `signer`, the
process whose key signed (shared/keys.py), and `signature`, base64 of its signature over
the topic, the key and the value. A consumer applies a message only if the signature
verifies under the signer's public key, the envelope's `source` is the signer, and the
signer is one of the senders the message's schema names (`Message.senders()`); anything
else is dead-lettered with the reason, never retried. The topic and key are signed with
the value, so a signed command cannot be replayed on another topic or for another key.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from collections.abc import Mapping

from shared.events.envelope import Envelope, senders
from shared.keys import Keyring

SIGNER = "signer"
SIGNATURE = "signature"
# What a dead letter's copy on `<topic>.dlq` calls its sender's headers: the copy itself is
# signed by the process that dead-lettered it.
ORIGINAL_SIGNER = "original-signer"
ORIGINAL_SIGNATURE = "original-signature"
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
    """The headers that name `keys`' process as the sender of this message."""
    signature = b64encode(keys.sign(signed_bytes(topic, key, value)))
    return [(SIGNER, keys.name.encode()), (SIGNATURE, signature)]


def is_signed(headers: list[list[str]] | list[tuple[str, bytes]]) -> bool:
    return any(name == SIGNATURE for name, _ in headers)


def verified_signer(
    keys: Keyring, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes | None]
) -> str:
    """The process whose key signed this message, or UntrustedSender saying why not."""
    signer, signature = headers.get(SIGNER), headers.get(SIGNATURE)
    if not signer or not signature:
        raise UntrustedSender("no signature")
    name = signer.decode(errors="replace")
    if name not in keys.public:
        raise UntrustedSender(f"signed by unknown process {name!r}")
    try:
        raw = b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise UntrustedSender(f"malformed signature claiming {name}") from None
    if not keys.verify(name, signed_bytes(topic, key, value), raw):
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
