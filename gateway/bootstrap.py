"""Wiring: the gateway's collaborators, made once per app, real or brought by a test.

`bootstrap(settings, overrides)` builds the `Gateway` (gateway/deps.py) that every route
reaches through its dependencies; a test passes `Overrides` (a clock it controls, fake
upstreams, its own hub) instead of patching the running objects."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from gateway.db import Base, messaging
from gateway.deps import Gateway
from gateway.identity.sessions import Sessions
from gateway.identity.stepup import Challenges, StepUp
from gateway.notifications.consumer import Notifier, notifications_consumer
from gateway.notifications.hub import NotificationHub
from gateway.ratelimit import RateLimiter
from gateway.routing.idempotency import Idempotency
from gateway.routing.upstream import Upstreams
from gateway.sandbox.deposits import deposits_consumer
from shared.clock import Clock
from shared.events.topics import ACCOUNTS_COMMANDS
from shared.service import Runtime
from shared.settings import Settings


@dataclass(frozen=True)
class Overrides:
    """Collaborators to use instead of the real ones; None keeps the real one."""

    clock: Clock | None = None
    upstreams: Upstreams | None = None
    hub: NotificationHub | None = None


def bootstrap(settings: Settings, overrides: Overrides = Overrides()) -> Gateway:
    clock = overrides.clock or Clock()
    hub = overrides.hub or NotificationHub()
    runtime = Runtime(
        settings,
        metadata=Base.metadata,
        tables=messaging,
        topics=[ACCOUNTS_COMMANDS],
        consumers=[
            deposits_consumer(settings.service),
            notifications_consumer(settings.service, Notifier(hub, clock)),
        ],
        clock=clock,
    )
    upstreams = overrides.upstreams or Upstreams(settings.urls)
    sessions = Sessions(runtime.db, runtime.tokens, settings.auth, clock)
    sessions.on_revoke.append(hub.wake_session)
    idempotency = Idempotency(runtime.db, clock)
    challenges = Challenges(runtime, hub, settings.auth, clock)
    limits = settings.gateway
    gateway = Gateway(
        settings=settings,
        runtime=runtime,
        clock=clock,
        hub=hub,
        upstreams=upstreams,
        sessions=sessions,
        idempotency=idempotency,
        challenges=challenges,
        stepup=StepUp(challenges, idempotency, upstreams, lambda: runtime.tokens.service_token("gateway")),
        ip_limits=RateLimiter(limits.rate_ip_per_s, limits.rate_ip_burst),
        customer_limits=RateLimiter(limits.rate_customer_per_s, limits.rate_customer_burst),
        id_namespace=uuid.UUID(bytes=hashlib.sha256(settings.auth.jwt_secret.encode()).digest()[:16]),
    )

    async def on_start(_runtime: Runtime) -> None:
        if settings.sandbox:
            await sessions.seed_demo_users()
        await idempotency.purge_expired()

    async def on_reset() -> None:
        sessions.forget_cached()
        idempotency.forget()
        hub.wake_everyone()  # streams re-check their session (gone) and end

    runtime.on_start = on_start
    runtime.on_reset.append(on_reset)
    runtime.background += [idempotency.flush_answers, sessions.write_activity]
    return gateway
