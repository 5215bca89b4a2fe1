"""JWT access tokens, shared so every service verifies the caller itself rather than
trusting the gateway. (Passwords are the gateway's alone: gateway/identity/passwords.py.)"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from shared.problems import Problem
from shared.settings import AuthSettings

ROLE_CUSTOMER = "customer"
ROLE_OPERATOR = "operator"
ROLE_ADJUSTER = "adjuster"
ROLE_SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    subject: str  # the customer id, or the operator's / service's id
    roles: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    token: str = ""

    @property
    def customer_id(self) -> str:
        return self.subject

    def has(self, role: str) -> bool:
        return role in self.roles


class TokenIssuer:
    # Verified tokens kept until they expire: a phone sends the same access token with
    # every request, and checking its signature and claims again each time was a visible
    # share of every service's CPU under load. Bounded; cleared whole when full.
    CACHE_MAX = 50_000

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._verified: dict[str, tuple[Principal, float]] = {}

    def issue(
        self,
        subject: str,
        roles: list[str],
        *,
        session_id: str | None = None,
        ttl_s: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
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
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")

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
        try:
            claims = jwt.decode(
                token,
                self.settings.jwt_secret,
                algorithms=["HS256"],
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the access token has expired; refresh it") from None
        except jwt.PyJWTError:
            raise unauthorized("the access token is not valid") from None
        principal = Principal(
            subject=str(claims["sub"]),
            roles=frozenset(claims.get("roles", [])),
            session_id=claims.get("sid"),
            token=token,
        )
        return principal, float(claims["exp"])

    def service_token(self, service: str) -> str:
        return self.issue(f"service:{service}", [ROLE_SERVICE], ttl_s=3600)


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("send an access token as 'Authorization: Bearer <token>'")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    issuer: TokenIssuer = request.app.state.tokens
    return issuer.verify(bearer_token(request))


def require_role(role: str) -> Any:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(role):
            raise Problem(403, "forbidden", f"this operation needs the {role} role")
        return principal

    return check


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Operator = Annotated[Principal, Depends(require_role(ROLE_OPERATOR))]
ServiceCaller = Annotated[Principal, Depends(require_role(ROLE_SERVICE))]


async def customer_only(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.has(ROLE_CUSTOMER):
        raise Problem(403, "forbidden", "this operation is for customers")
    return principal


CurrentCustomer = Annotated[Principal, Depends(customer_only)]
