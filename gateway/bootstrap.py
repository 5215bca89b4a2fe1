"""Wiring: the gateway's collaborators, made once per app, real or brought by a test.

`bootstrap(settings, overrides)` builds the `Gateway` (gateway/deps.py) that every route
reaches through its dependencies; a test passes `Overrides` (a clock it controls, fake
upstreams, its own hub) instead of patching the running objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gateway import store
from gateway.deps import Gateway
from gateway.identity.devices import Devices
from gateway.identity.passwords import Passwords
from gateway.identity.registration import Registrations
from gateway.identity.sessions import Sessions
from gateway.identity.stepup import Challenges, StepUp
from gateway.notifications.consumer import Notifier, notifications_consumer
from gateway.notifications.hub import NotificationHub
from gateway.ratelimit import AttemptLimits, RateLimiter
from gateway.routing.idempotency import Idempotency
from gateway.routing.upstream import Upstreams
from gateway.sandbox.inbox import Inbox
from gateway.settings import Settings
from gateway.streams import StreamSlots
from gateway.webhooks.delivery import DeliveryWorker, Schedule
from shared import bootstrap as shared
from shared.audit import AuditWriter
from shared.clock import Clock
from shared.runtime import Runtime


@dataclass(frozen=True)
class Overrides(shared.Overrides):
    """Every process's overrides, and the gateway's own collaborators. Calls to the services
    go through `upstreams` (a fake one in tests)."""

    upstreams: Upstreams | None = None
    hub: NotificationHub | None = None


def bootstrap(settings: Settings, overrides: Overrides = Overrides()) -> Gateway:
    clock = overrides.clock or Clock()
    hub = overrides.hub or NotificationHub()
    runtime = Runtime(
        settings,
        metadata=store.Base.metadata,
        migrations=store.migrations,
        tables=store.messaging,
        consumers=[notifications_consumer(settings.service, Notifier(hub, clock, sandbox=settings.sandbox))],
        clock=clock,
        group_suffix=overrides.group_suffix,
    )

    limits = settings.gateway
    upstreams = overrides.upstreams or Upstreams(
        settings.urls,
        runtime.tokens,
        stream_connections=limits.stream_connections_per_service,
        tracing=runtime.tracing,
    )
    runtime.on_stop("upstreams", upstreams.close)
    passwords = Passwords(workers=limits.password_workers, max_waiting=limits.password_max_waiting)
    runtime.on_stop("passwords", passwords.close)
    sessions = Sessions(runtime.db, runtime.tokens, passwords, settings.auth, clock)
    sessions.on_revoke.append(hub.wake_session)
    inbox = Inbox(runtime.db, sandbox=settings.sandbox)
    registrations = Registrations(
        runtime.db,
        inbox,
        runtime.keys.derive("one-time-codes"),
        clock,
        ttl_s=limits.registration_code_ttl_s,
        max_attempts=limits.registration_code_max_attempts,
    )
    idempotency = Idempotency(runtime.db, clock)
    challenges = Challenges(runtime, hub, inbox, settings.auth, clock)
    webhooks = DeliveryWorker(
        runtime.db,
        Schedule(
            max_attempts=limits.webhook_max_attempts,
            base_s=limits.webhook_retry_base_s,
            cap_s=limits.webhook_retry_max_s,
            timeout_s=limits.webhook_timeout_s,
            concurrency=limits.webhook_concurrency,
        ),
    )
    hub.recorders.append(webhooks.recorder())
    trail = AuditWriter(runtime.db, runtime.tables.audit)
    runtime.on_stop("audit trail", trail.flush)  # a clean stop appends what is queued
    gateway = Gateway(
        settings=settings,
        runtime=runtime,
        clock=clock,
        hub=hub,
        upstreams=upstreams,
        sessions=sessions,
        passwords=passwords,
        registrations=registrations,
        inbox=inbox,
        idempotency=idempotency,
        challenges=challenges,
        stepup=StepUp(challenges, runtime.tokens),
        devices=Devices(runtime, challenges, hub, settings.auth, clock, sandbox=settings.sandbox),
        ip_limits=RateLimiter(limits.rate_ip_per_s, limits.rate_ip_burst),
        customer_limits=RateLimiter(limits.rate_customer_per_s, limits.rate_customer_burst),
        streams=StreamSlots(limits.max_streams_per_customer),
        login_limits=AttemptLimits(
            "login attempts",
            RateLimiter(limits.rate_login_ip_per_s, limits.rate_login_ip_burst),
            RateLimiter(limits.rate_login_phone_per_s, limits.rate_login_phone_burst),
        ),
        register_limits=AttemptLimits(
            "registration attempts",
            RateLimiter(limits.rate_register_ip_per_s, limits.rate_register_ip_burst),
            RateLimiter(limits.rate_register_phone_per_s, limits.rate_register_phone_burst),
        ),
        id_namespace=uuid.UUID(bytes=runtime.keys.derive("customer-ids")[:16]),
        webhooks=webhooks,
        audit=trail,
    )

    async def on_start(_runtime: Runtime) -> None:
        if settings.sandbox:
            await sessions.seed_demo_users()
        await idempotency.purge_expired()

    async def on_reset() -> None:
        sessions.forget_cached()
        idempotency.forget()
        trail.forget()
        hub.wake_everyone()  # streams re-check their session (gone) and end
        webhooks.wake()

    runtime.on_start = on_start
    runtime.on_reset.append(on_reset)
    runtime.background += [idempotency.flush_answers, sessions.write_activity, webhooks.run, trail.run]
    return gateway
