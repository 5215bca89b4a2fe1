"""Every process's Ed25519 key pair, and the public keys of the processes it trusts.

A key directory holds `<process>.key` (the private key, PEM, mode 0600) and
`<process>.pub` (its public key, PEM) for each process of the stack. A process loads
its own private key and every public key; it signs what it says (the tokens it mints,
the Kafka messages it publishes) and checks what others say against their public
keys. Nothing is ever signed with a secret that ships with the code: `generate` makes
the keys on first start (`sandbank run` does it into `.data/keys/`, compose into a
volume), and a process without its key refuses to start and says how to make one.

Only the gateway's key mints tokens for customers, operators and adjusters; every
process's key mints tokens for itself as a service, and signs its own messages
(shared/auth.py and shared/kafka/signing.py say what is checked).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# The processes of a stack: each has a key pair.
PROCESSES = ("gateway", "accounts", "payments", "securities", "insurance")
GATEWAY = "gateway"


class MissingKeys(RuntimeError):
    """The process's key directory lacks its private key or a public key it needs."""


@dataclass(frozen=True)
class Keyring:
    name: str  # the process these keys belong to
    private: Ed25519PrivateKey
    public: dict[str, Ed25519PublicKey]  # every known process's public key, by name

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
        return cls(name, private, public)

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

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret of this process for `purpose` (e.g. the HMAC key of one-time
        codes), derived from its private key: never stored, never shared."""
        raw = self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return hmac.new(raw, f"sandbank:{purpose}".encode(), hashlib.sha256).digest()


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
