"""Sending deliveries: one background worker with a pooled HTTP client.

The worker sleeps until it is woken (a delivery was written: `DeliveryRecorder`, a test
event, a replay) or until the soonest retry is due, then sends every due delivery, at
most `webhook_concurrency` at a time. Each attempt is signed afresh (shared/webhooks.py),
logged with the receiver's answer, and the delivery moved on: succeeded, tried again
after a backoff, or failed after the last attempt. A delivery being sent when the
process stops is sent again after it starts (at least once: receivers deduplicate by
`Sandbank-Webhook-Id`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import update

from gateway.presence import Presence
from gateway.webhooks import rules, store
from shared.aio import within
from shared.db import Database
from shared.events.envelope import utcnow
from shared.webhooks import ID_HEADER, SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)
USER_AGENT = "Sandbank-Webhooks/1"


@dataclass(frozen=True)
class Schedule:
    """How hard a delivery is tried: its timeout, and the retries' backoff and count."""

    max_attempts: int = 8
    base_s: float = 1.0
    cap_s: float = 600.0
    timeout_s: float = 10.0
    concurrency: int = 16


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    duration_ms: int
    error: str | None


class DeliveryWorker:
    def __init__(self, db: Database, schedule: Schedule, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.db = db
        self.schedule = schedule
        self._transport = transport
        self._woken = asyncio.Event()
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        # Whether any endpoint is enabled: the routes that make or enable one mark it.
        self.endpoints = Presence()

    def wake(self) -> None:
        self._woken.set()

    def recorder(self) -> store.DeliveryRecorder:
        return store.DeliveryRecorder(self.wake, utcnow, self.endpoints)

    async def run(self) -> None:
        """The background loop (runtime.background): send what is due, sleep until woken
        or until the next retry is due."""
        limits = httpx.Limits(max_connections=self.schedule.concurrency * 2, max_keepalive_connections=32)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=self.schedule.timeout_s,
            limits=limits,
            follow_redirects=False,  # a 3xx is an answer, not 2xx: the endpoint's URL is the one to fix
            headers={"User-Agent": USER_AGENT},
        )
        try:
            while True:
                self._woken.clear()
                wait_s = await self._send_due()
                with contextlib.suppress(TimeoutError):
                    await within(self._woken.wait(), wait_s)
        finally:
            sending = list(self._sending.values())
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            await self._client.aclose()
            self._client = None

    async def _send_due(self) -> float | None:
        """Start the due deliveries; how long until the next one is due (None: until woken)."""
        free = self.schedule.concurrency - len(self._sending)
        now = utcnow()
        async with self.db.read() as session:
            found = await store.due(session, now, set(self._sending), free) if free > 0 else []
            for delivery in found:
                self._sending[delivery.id] = asyncio.create_task(
                    self._attempt(delivery.id), name=f"webhook-delivery-{delivery.id}"
                )
            if free - len(found) <= 0:
                return None  # full: a finished attempt wakes the loop
            soonest = await store.next_due(session, set(self._sending))
        if soonest is None:
            return None
        return max((soonest - utcnow()).total_seconds(), 0.0)

    async def _attempt(self, delivery_id: int) -> None:
        try:
            await self._send(delivery_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery %s: the attempt could not be made or logged", delivery_id)
        finally:
            self._sending.pop(delivery_id, None)
            self.wake()

    async def _send(self, delivery_id: int) -> None:
        async with self.db.read() as session:
            delivery = await session.get(store.WebhookDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return
            endpoint = await session.get(store.WebhookEndpoint, delivery.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                return
            url, payload, event_id = endpoint.url, delivery.payload.encode(), delivery.event_id
            attempts = delivery.attempts + 1
            started_at = utcnow()
            secrets = rules.signing_secrets(
                endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until, started_at
            )
        # Wall-clock seconds: the receiver checks them against its own clock.
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(payload, secrets, int(time.time())),
            ID_HEADER: event_id,
        }
        answer = await self.post(url, payload, headers)
        outcome = rules.after_attempt(
            attempts,
            rules.succeeded(answer.status_code),
            utcnow(),
            max_attempts=self.schedule.max_attempts,
            base_s=self.schedule.base_s,
            cap_s=self.schedule.cap_s,
        )
        await self._log(delivery_id, attempts, started_at, answer, outcome)

    async def post(self, url: str, payload: bytes, headers: dict[str, str]) -> Answer:
        """One POST; the answer's body read up to rules.EXCERPT_BYTES."""
        assert self._client is not None, "the worker is not running"
        started = time.perf_counter()
        status_code: int | None = None
        excerpt = b""
        error: str | None = None
        try:
            async with self._client.stream("POST", url, content=payload, headers=headers) as response:
                status_code = response.status_code
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= rules.EXCERPT_BYTES:
                        break
        except httpx.TimeoutException:
            error = f"timed out after {self.schedule.timeout_s:g}s"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        duration_ms = round((time.perf_counter() - started) * 1000)
        text = excerpt[: rules.EXCERPT_BYTES].decode("utf-8", errors="replace")
        return Answer(status_code, text, duration_ms, error)

    async def _log(self, delivery_id: int, number: int, at: datetime, answer: Answer, outcome: rules.Outcome) -> None:
        async with self.db.write() as session, session.begin():
            changed = await session.execute(
                update(store.WebhookDelivery)
                .where(store.WebhookDelivery.id == delivery_id, store.WebhookDelivery.status == "pending")
                .values(
                    attempts=number,
                    status=outcome.status,
                    next_attempt_at=outcome.next_at,
                    last_status_code=answer.status_code,
                    completed_at=None if outcome.status == "pending" else utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if not getattr(changed, "rowcount", 0):
                return  # deleted meanwhile (the endpoint, a sandbox reset)
            session.add(
                store.WebhookAttempt(
                    delivery_id=delivery_id,
                    number=number,
                    attempted_at=at,
                    status_code=answer.status_code,
                    response_excerpt=answer.excerpt,
                    duration_ms=answer.duration_ms,
                    error=answer.error,
                )
            )
        if outcome.status == "failed":
            log.warning("webhook delivery %s failed after %d attempts", delivery_id, number)
