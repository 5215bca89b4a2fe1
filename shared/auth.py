"""Tokens (EdDSA JWTs, per process and per audience), shared so every process verifies its
caller itself. (Passwords are the gateway's alone: gateway/identity/passwords.py.)"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from shared.keys import GATEWAY, Keyring
from shared.problems import Problem, documents
from shared.settings import AuthSettings

ROLE_CUSTOMER = "customer"
ROLE_OPERATOR = "operator"
ROLE_ADJUSTER = "adjuster"
ROLE_COMPLIANCE = "compliance"
ROLE_SERVICE = "service"
# A Prometheus scraper's token (`sandbank keys --scrape-token`): /metrics, nothing else.
ROLE_METRICS = "metrics"


@dataclass(frozen=True)
class Principal:
    subject: str  # the customer id, or the operator's / service's id
    roles: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    token: str = ""
    issuer: str = ""
    # Until when (epoch seconds on the sandbox clock) the session's device is new, as the
    # gateway signed it (claim `ndu`); None: a trusted device, or no customer device.
    new_device_until: float | None = None

    @property
    def customer_id(self) -> str:
        return self.subject

    def has(self, role: str) -> bool:
        return role in self.roles


class TokenIssuer:
    """Mints and verifies this process's EdDSA tokens (shared/keys.py holds the keys).

    A token names its signer in its `kid` header and `iss` claim, and the one process it
    is for in `aud`. A process accepts only tokens for itself, signed by a process it
    knows, and only the gateway may vouch for a person (customer, operator, adjuster):
    another process's token may only say that it is that process, as a service. So a
    customer's own access token (for the gateway) is refused by every service; a service
    acts on a token the gateway minted for it, for one hop, on the customer's behalf.
    """

    # Verified tokens kept until they expire: a phone sends the same access token with
    # every request, and checking its signature and claims again each time was a visible
    # share of every service's CPU under load. Bounded; cleared whole when full.
    CACHE_MAX = 50_000
    # A minted token is reused while it has this much life left.
    REUSE_MARGIN_S = 20

    def __init__(self, keys: Keyring, settings: AuthSettings) -> None:
        self.keys = keys
        self.name = keys.name
        self.settings = settings
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._minted: dict[tuple[str, str], tuple[str, float]] = {}

    def issue(
        self,
        subject: str,
        roles: list[str],
        *,
        audience: str | list[str],
        session_id: str | None = None,
        ttl_s: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.name,
            "aud": audience,
            "sub": subject,
            "roles": roles,
            "iat": now,
            "exp": now + (ttl_s or self.settings.access_ttl_s),
            "jti": uuid.uuid4().hex,
        }
        if session_id:
            claims["sid"] = session_id
        if extra:
            claims.update(extra)
        return jwt.encode(claims, self.keys.private, algorithm="EdDSA", headers={"kid": self.name})

    def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires_at = cached
            if time.time() < expires_at:
                return principal
            del self._verified[token]
        principal, expires_at = self._verify(token)
        if len(self._verified) >= self.CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (principal, expires_at)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        signer, claims = self.claims(token)
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or "step_up" in claims:  # an approval is not a login
            raise unauthorized("the access token is not valid")
        speaks_for_itself = roles == [ROLE_SERVICE] and claims["sub"] == f"service:{signer}"
        if ROLE_SERVICE in roles and not speaks_for_itself:
            raise unauthorized("a service token speaks only for the process that signed it")
        if signer != GATEWAY and not speaks_for_itself:
            raise unauthorized(f"{signer} may vouch only for itself")
        principal = Principal(
            subject=str(claims["sub"]),
            roles=frozenset(roles),
            session_id=claims.get("sid"),
            token=token,
            issuer=signer,
            new_device_until=_number(claims.get(NEW_DEVICE_CLAIM)),
        )
        return principal, float(claims["exp"])

    def claims(self, token: str) -> tuple[str, dict[str, Any]]:
        """The signer and claims of a token for this process, signed by a process it knows
        and not expired; raises a 401 problem otherwise."""
        try:
            signer = jwt.get_unverified_header(token).get("kid")
            key = self.keys.public.get(signer) if isinstance(signer, str) else None
            if key is None or not isinstance(signer, str):
                raise unauthorized("the access token is not valid")
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.name,
                issuer=signer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the access token has expired; refresh it") from None
        except jwt.InvalidAudienceError:
            raise unauthorized(f"the token is not for {self.name}") from None
        except jwt.PyJWTError:
            raise unauthorized("the access token is not valid") from None
        return signer, claims

    def _reuse(self, key: tuple[str, str], mint: Any) -> str:
        now = time.time()
        found = self._minted.get(key)
        if found is not None and found[1] - now > self.REUSE_MARGIN_S:
            return found[0]
        if len(self._minted) >= self.CACHE_MAX:
            self._minted.clear()
        token = mint()
        self._minted[key] = (token, now + self.settings.hop_ttl_s)
        return token

    def service_token(self, audience: str) -> str:
        """This process, as a service, for one call to `audience`."""
        return self._reuse(
            ("", audience),
            lambda: self.issue(
                f"service:{self.name}", [ROLE_SERVICE], audience=audience, ttl_s=self.settings.hop_ttl_s
            ),
        )

    def on_behalf(self, principal: Principal, audience: str) -> str:
        """The gateway's word to `audience` that `principal` (verified here, with a live
        session) is calling: short-lived, for that one service only."""
        return self._reuse(
            (principal.token, audience),
            lambda: self.issue(
                principal.subject,
                sorted(principal.roles),
                audience=audience,
                session_id=principal.session_id,
                ttl_s=self.settings.hop_ttl_s,
                extra=new_device_claim(principal.new_device_until),
            ),
        )


# The claim a gateway-signed token carries while its session's device is new.
NEW_DEVICE_CLAIM = "ndu"


def new_device_claim(until: float | None) -> dict[str, Any] | None:
    return None if until is None else {NEW_DEVICE_CLAIM: until}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("send an access token as 'Authorization: Bearer <token>'")
    return token.strip()


NO_TOKEN = {401: "no valid access token"}
NOT_A_CUSTOMER = {403: "the caller is not a customer"}


@documents(NO_TOKEN)
async def current_principal(request: Request) -> Principal:
    return principal_of(request)


def principal_of(request: Request) -> Principal:
    """The caller its bearer token names (401 without a valid one)."""
    issuer: TokenIssuer = request.app.state.tokens
    return issuer.verify(bearer_token(request))


def with_role(request: Request, role: str, detail: str) -> Principal:
    """The caller, if its token gives it `role` (401 without a valid token, 403 `detail`
    without the role)."""
    principal = principal_of(request)
    if not principal.has(role):
        raise Problem(403, "forbidden", detail)
    return principal


# The role checks below are one dependency each, not a check that depends on
# `current_principal`: FastAPI solves every dependency of every request anew, and a
# level fewer is a share of each request's CPU. They answer as the two did, in order.


def require_role(role: str) -> Any:
    detail = f"this operation needs the {role} role"

    @documents({**NO_TOKEN, 403: f"the caller lacks the {role} role"})
    async def check(request: Request) -> Principal:
        return with_role(request, role, detail)

    return check


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Operator = Annotated[Principal, Depends(require_role(ROLE_OPERATOR))]
ServiceCaller = Annotated[Principal, Depends(require_role(ROLE_SERVICE))]


@documents({**NO_TOKEN, **NOT_A_CUSTOMER})
async def customer_only(request: Request) -> Principal:
    return customer_of(request)


def customer_of(request: Request) -> Principal:
    """The calling customer (401 without a valid token, 403 for another role)."""
    return with_role(request, ROLE_CUSTOMER, "this operation is for customers")


CurrentCustomer = Annotated[Principal, Depends(customer_only)]
