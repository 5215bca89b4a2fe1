"""What the gateway's routes depend on: the collaborators gateway/bootstrap.py wires once
per app (`Gateway`), as typed aliases, and who is calling (a live session, with the role
the route needs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from gateway.identity.devices import Devices
from gateway.identity.passwords import Passwords
from gateway.identity.registration import Registrations
from gateway.identity.sessions import Sessions
from gateway.identity.stepup import Challenges, StepUp
from gateway.notifications.hub import NotificationHub
from gateway.ratelimit import QUOTA_STATE, AttemptLimits, RateLimiter, limited
from gateway.routing.idempotency import Idempotency
from gateway.routing.upstream import Upstreams
from gateway.sandbox.inbox import Inbox
from gateway.settings import Settings
from gateway.streams import StreamSlots
from gateway.webhooks.delivery import DeliveryWorker
from shared.audit import AuditWriter
from shared.auth import (
    NO_TOKEN,
    ROLE_ADJUSTER,
    ROLE_COMPLIANCE,
    ROLE_CUSTOMER,
    ROLE_OPERATOR,
    Principal,
    principal_of,
    unauthorized,
)
from shared.clock import Clock
from shared.problems import Problem, documents
from shared.runtime import Runtime


@dataclass(frozen=True)
class Gateway:
    """The collaborators of one gateway app, wired once by gateway/bootstrap.py."""

    settings: Settings
    runtime: Runtime
    clock: Clock
    hub: NotificationHub
    upstreams: Upstreams
    sessions: Sessions
    passwords: Passwords
    registrations: Registrations
    inbox: Inbox
    idempotency: Idempotency
    challenges: Challenges
    stepup: StepUp
    devices: Devices
    ip_limits: RateLimiter
    customer_limits: RateLimiter
    streams: StreamSlots
    login_limits: AttemptLimits
    register_limits: AttemptLimits
    # Customer ids derive from the phone in this namespace, so a registration interrupted
    # between accounts and the gateway can simply be repeated.
    id_namespace: uuid.UUID
    webhooks: DeliveryWorker
    # The gateway's own audit entries, appended many to a transaction.
    audit: AuditWriter


async def current_gateway(request: Request) -> Gateway:
    return request.app.state.gateway


GatewayDep = Annotated[Gateway, Depends(current_gateway)]


async def _clock(gw: GatewayDep) -> Clock:
    return gw.clock


async def _sessions(gw: GatewayDep) -> Sessions:
    return gw.sessions


@documents({502: "a service this route asks failed", 503: "a service this route asks is not answering"})
async def _upstreams(gw: GatewayDep) -> Upstreams:
    return gw.upstreams


async def _challenges(gw: GatewayDep) -> Challenges:
    return gw.challenges


async def _registrations(gw: GatewayDep) -> Registrations:
    return gw.registrations


async def _inbox(gw: GatewayDep) -> Inbox:
    return gw.inbox


async def _client_address(request: Request) -> str:
    # The socket's peer: behind a proxy, the proxy's (X-Forwarded-For is not trusted).
    return request.client.host if request.client else "unknown"


ClockDep = Annotated[Clock, Depends(_clock)]
SessionsDep = Annotated[Sessions, Depends(_sessions)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]
ChallengesDep = Annotated[Challenges, Depends(_challenges)]
RegistrationsDep = Annotated[Registrations, Depends(_registrations)]
InboxDep = Annotated[Inbox, Depends(_inbox)]
ClientAddress = Annotated[str, Depends(_client_address)]


# Both reasons for a 401 from `authenticated`, one string as the published documents word
# them: it answered them as two dependencies (the token, then the session) and is now one.
_NO_TOKEN_OR_ENDED_SESSION = "; ".join(("no valid access token, or its session has ended", NO_TOKEN[401]))


@documents({401: _NO_TOKEN_OR_ENDED_SESSION, 429: "too many requests from this customer"})
async def authenticated(request: Request) -> Principal:
    """A valid access token whose session is still live (logout revokes at once). The
    answer carries the customer's RateLimit headers (gateway/ratelimit.py).

    One dependency, reading the token and the app's collaborators itself: FastAPI solves
    each dependency anew on every request, and the token and the gateway as dependencies
    of their own were a share of each request's CPU on the transfer path."""
    principal = principal_of(request)
    gw: Gateway = request.app.state.gateway
    limits = gw.customer_limits
    wait = limits.take(principal.subject)
    setattr(request.state, QUOTA_STATE, (limits.burst, *limits.quota(principal.subject)))
    if wait:
        raise limited("customer", wait)
    if principal.session_id is None or not await gw.sessions.active(principal.session_id, principal.subject):
        raise unauthorized("the session has ended; log in again")
    gw.sessions.touch(principal.session_id)
    # Who acted, for the audit trail's record of the request (gateway/ops/audit.py).
    request.state.principal = principal
    return principal


Authenticated = Annotated[Principal, Depends(authenticated)]


def _role(role: str, detail: str) -> Any:
    @documents({403: detail})
    async def check(principal: Authenticated) -> Principal:
        if not principal.has(role):
            raise Problem(403, "forbidden", detail)
        return principal

    return Depends(check)


Customer = Annotated[Principal, _role(ROLE_CUSTOMER, "this operation is for customers")]
Operator = Annotated[Principal, _role(ROLE_OPERATOR, "this operation needs the operator role")]
Adjuster = Annotated[Principal, _role(ROLE_ADJUSTER, "this operation needs the adjuster role")]
Compliance = Annotated[Principal, _role(ROLE_COMPLIANCE, "this operation needs the compliance role")]


@documents({404: "sandbox controls are off: the stack is not in sandbox mode"})
async def sandbox_only(gw: GatewayDep) -> None:
    if not gw.settings.sandbox:
        raise Problem(404, "not-found", "sandbox controls are off: the stack is not in sandbox mode")


SandboxOnly = Depends(sandbox_only)
