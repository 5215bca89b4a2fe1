"""Every process's Ed25519 key pair, the public keys of the processes it trusts, and the
link keys it shares with each of them.

A key directory holds `<process>.key` (the private key, PEM, mode 0600) and
`<process>.pub` (its public key, PEM) for each process of the stack. A process loads
its own private key and every public key; it signs what it says (the tokens it mints,
the Kafka messages it publishes) and checks what others say against their public
keys. Nothing is ever signed with a secret that ships with the code: `generate` makes
the keys on first start (`sandbank run` does it into `.data/keys/`, compose into a
volume), and a process without its key refuses to start and says how to make one.

Only the gateway's key mints tokens for customers, operators and adjusters; every
process's key mints tokens for itself as a service (shared/auth.py says what is checked).

Kafka messages are authenticated with link keys instead of signatures, because they are
many (docs/adr/0020-message-macs-over-link-keys.md): two processes agree on a 32-byte key
by X25519 over the same key pairs, converted as libsodium converts them
(`crypto_sign_ed25519_pk_to_curve25519`), and HKDF with both names. Only those two can
compute it, so a tag under it proves to one that the other made it; nothing new is
stored or shared.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The processes of a stack: each has a key pair.
PROCESSES = ("gateway", "accounts", "payments", "securities", "insurance")
GATEWAY = "gateway"
# Sets the link keys apart from anything else derived from the same key pairs.
_LINK_LABEL = b"sandbank-link-key-v1"
_P25519 = 2**255 - 19
TAG_BYTES = 16


class MissingKeys(RuntimeError):
    """The process's key directory lacks its private key or a public key it needs."""


@dataclass(frozen=True)
class Keyring:
    name: str  # the process these keys belong to
    private: Ed25519PrivateKey
    public: dict[str, Ed25519PublicKey]  # every known process's public key, by name
    # The key this process shares with each known process (itself too), by name.
    links: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, directory: str | Path, name: str) -> Keyring:
        folder = Path(directory)
        own = folder / f"{name}.key"
        if not own.is_file():
            raise MissingKeys(
                f"no signing key for {name!r} at {own}: `sandbank run` (make run) generates the stack's keys "
                f"on first start, `sandbank keys --dir {folder}` generates them now; or set AUTH_KEYS_DIR"
            )
        private = serialization.load_pem_private_key(own.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise MissingKeys(f"{own} is not an Ed25519 private key")
        public: dict[str, Ed25519PublicKey] = {}
        for path in sorted(folder.glob("*.pub")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if isinstance(key, Ed25519PublicKey):
                public[path.stem] = key
        if GATEWAY not in public:
            raise MissingKeys(f"no public key of the gateway at {folder / 'gateway.pub'}")
        return cls(name, private, public, links(name, private, public))

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def verify(self, signer: str, data: bytes, signature: bytes) -> bool:
        """Whether `signer`'s private key made `signature` over `data`."""
        key = self.public.get(signer)
        if key is None:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def tag(self, peer: str, data: bytes) -> bytes | None:
        """The tag over `data` under the link key shared with `peer` (None: an unknown peer):
        keyed BLAKE2b (RFC 7693's MAC mode) of 128 bits."""
        link = self.links.get(peer)
        return None if link is None else hashlib.blake2b(data, key=link, digest_size=TAG_BYTES).digest()

    @cached_property
    def taggers(self) -> list[tuple[bytes, Any]]:
        """Each known process's name, encoded, and a keyed BLAKE2b state under the link key
        shared with it, with no data yet: `copy()` gives what `tag` starts from without keying
        a new hash, and a producer tags every message for every process of the stack."""
        return [(peer.encode(), hashlib.blake2b(key=link, digest_size=TAG_BYTES)) for peer, link in self.links.items()]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret of this process for `purpose` (e.g. the HMAC key of one-time
        codes), derived from its private key: never stored, never shared."""
        raw = self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return hmac.new(raw, f"sandbank:{purpose}".encode(), hashlib.sha256).digest()


def links(name: str, private: Ed25519PrivateKey, public: dict[str, Ed25519PublicKey]) -> dict[str, bytes]:
    """The link key `name` shares with each process in `public`: X25519 of this process's
    scalar and the other's point, then HKDF bound to both names (sorted, so both ends get
    the same key). The Ed25519 seed's SHA-512 half is the X25519 scalar and the public key's
    Montgomery form its point: RFC 7748's birational map, as libsodium does it."""
    raw, secret_format = serialization.Encoding.Raw, serialization.PrivateFormat.Raw
    seed = private.private_bytes(raw, secret_format, serialization.NoEncryption())
    own = X25519PrivateKey.from_private_bytes(hashlib.sha512(seed).digest()[:32])
    shared: dict[str, bytes] = {}
    for other, key in public.items():
        secret = own.exchange(X25519PublicKey.from_public_bytes(_montgomery(key)))
        pair = "\0".join(sorted((name, other))).encode()
        shared[other] = HKDF(algorithm=hashes.SHA256(), length=32, salt=_LINK_LABEL, info=pair).derive(secret)
    return shared


def _montgomery(key: Ed25519PublicKey) -> bytes:
    """An Ed25519 public key's point in the Montgomery form X25519 uses: u = (1 + y) / (1 - y)."""
    y = int.from_bytes(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw), "little")
    y &= (1 << 255) - 1
    if (1 - y) % _P25519 == 0:
        raise MissingKeys("a public key is the neutral point: not a key")
    return ((1 + y) * pow(1 - y, _P25519 - 2, _P25519) % _P25519).to_bytes(32, "little")


def generate(directory: str | Path, names: tuple[str, ...] = PROCESSES) -> list[str]:
    """Make the key pairs that `directory` lacks; returns the names made. An existing key
    is never replaced (tokens and messages signed with it stay valid)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names:
        own, pub = folder / f"{name}.key", folder / f"{name}.pub"
        if own.exists() and pub.exists():
            continue
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        pub.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        made.append(name)
    return made
