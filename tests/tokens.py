"""Tokens as the stack's processes mint them, for tests that play one of them.

A test that calls a service directly stands where the gateway stands: it vouches for a
customer, an operator or an adjuster with the gateway's key, or for itself as the
service `tests` (tests/conftest.py makes that key pair too). Its tokens name every
process as their audience, so one customer's headers work on each service a test
drives; the gateway never mints such a token.
"""

from __future__ import annotations

import os
from functools import cache

from shared.auth import ROLE_SERVICE, TokenIssuer
from shared.keys import GATEWAY, PROCESSES, Keyring
from shared.settings import AuthSettings

EVERY_PROCESS = list(PROCESSES)


@cache
def issuer(signer: str) -> TokenIssuer:
    return TokenIssuer(Keyring.load(os.environ["AUTH_KEYS_DIR"], signer), AuthSettings())


class Minter:
    def issue(
        self, subject: str, roles: list[str], *, audience: str | list[str] = EVERY_PROCESS, **claims: object
    ) -> str:
        """The gateway's word that `subject` with `roles` is calling."""
        return issuer(GATEWAY).issue(subject, roles, audience=audience, **claims)

    def service_token(self, service: str = "tests", *, audience: str | list[str] = EVERY_PROCESS) -> str:
        """`service`'s word that it is calling, as a service."""
        return issuer(service).issue(f"service:{service}", [ROLE_SERVICE], audience=audience)
