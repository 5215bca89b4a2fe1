"""Idempotency keys on money-moving POSTs, after the IETF Idempotency-Key draft.

- the same key with the same body replays the stored response as it was, marked
  `Idempotent-Replayed: true` and with the resource's `Location` (its GET has the state now);
- the same key with another body is refused with 422;
- the same key while the first request is still running gets 409;
- keys are per customer and kept for 24 hours.

Every money-moving request is forwarded to the service that owns it
(`forward_idempotently`, with payments' step-up answered on the way by
gateway/identity/stepup.py), which receives the key too and keeps it unique per customer, so
a repeat that slips past the gateway still finds what the first request made.

The header is read by shared/idempotency.py, the one reader for the gateway and every service.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.errors import Refused
from gateway.routing.store import IdempotencyKey
from shared.clock import Clock
from shared.db import Database, PointReader, table_of

log = logging.getLogger(__name__)

RETENTION = timedelta(hours=24)

# The owning service's answer to the request being forwarded.
Answer = Callable[[], Awaitable[Response]]


class KeyReused(Refused):
    code = "idempotency-key-reused"
    detail = "this Idempotency-Key was already used with a different request body"


class KeyInFlight(Refused):
    code = "idempotency-key-in-flight"
    detail = "a request with this Idempotency-Key is still being processed; retry shortly"
    retry_after_s = 1


def fingerprint(request: Request, body: bytes) -> str:
    """What a key is bound to: the method, the path as routed (the scope's, not
    `request.url`'s, which builds the whole URL to give it back) and the body as JSON
    with its members sorted."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.scope["path"].encode() + b"\n" + canonical)
    return digest.hexdigest()


class Idempotency:
    def __init__(self, db: Database, clock: Clock, recent_max: int = 20_000, flush_linger_s: float = 0.05) -> None:
        self.db = db
        self.flush_linger_s = flush_linger_s
        self.clock = clock
        self.in_flight: dict[tuple[str, str], str] = {}
        # Answers of forwarded requests: kept in memory for fast replays, and written to
        # the database in batches by `flush_answers` (group commit, off the request path).
        self._recent: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._recent_max = recent_max
        self._unwritten: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        table = table_of(IdempotencyKey)
        self._upsert = (sqlite_insert if db.sqlite else pg_insert)(table).on_conflict_do_nothing()
        # One look-up per new key on every money-moving POST: kept off the ORM.
        self._stored = PointReader(
            db,
            table,
            ["fingerprint", "state", "status_code", "response_body", "response_headers", "created_at"],
            ["owner_id", "key"],
        )

    async def lookup(self, owner_id: str, key: str, fp: str) -> Response | None:
        """The stored answer for this key, if any (memory first, then the database)."""
        row = self._recent.get((owner_id, key))
        if row is None:
            row = await self._stored.get(owner_id, key)
            if row is None:
                return None
        if self.clock.now() - row["created_at"] > RETENTION:
            return None
        if row["fingerprint"] != fp:
            raise KeyReused()
        if row["state"] == "in_flight":  # a row from an older gateway, claimed and never finished
            raise KeyInFlight()
        return _replay(row["status_code"], row["response_body"], row["response_headers"])

    def forget(self) -> None:
        """Drop what is kept in memory (after a sandbox reset emptied the table)."""
        self._recent.clear()
        self._unwritten.clear()
        self.in_flight.clear()

    def remember(self, owner_id: str, key: str, fp: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Keep a finished answer for replays; it reaches the database with the next batch.

        Losing an unwritten answer in a crash costs nothing but a round trip: the
        service that owns the resource answers the repeated key with the same resource."""
        row = {
            "owner_id": owner_id,
            "key": key,
            "fingerprint": fp,
            "state": "done",
            "status_code": status,
            "response_body": body,
            "response_headers": headers,
            "created_at": self.clock.now(),
        }
        self._recent[(owner_id, key)] = row
        if len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)
        self._unwritten.append(row)
        self._wake.set()

    async def flush_answers(self) -> None:
        """Background loop: write remembered answers, many per transaction. It lingers a
        moment after the first answer so that a steady stream of requests shares one
        transaction rather than paying one each; replays are served from memory meanwhile."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.flush_linger_s)
            self._wake.clear()
            batch, self._unwritten = self._unwritten, []
            if not batch:
                continue
            try:
                async with self.db.write() as session, session.begin():
                    await self.db.quick_write(self._upsert).run(session, batch)
            except Exception:
                log.exception("could not store %d idempotency answers; retrying", len(batch))
                self._unwritten = batch + self._unwritten
                await asyncio.sleep(0.5)
                self._wake.set()

    async def purge_expired(self) -> None:
        async with self.db.write() as session, session.begin():
            await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < self.clock.now() - RETENTION)
            )


def _replay(status: int | None, body: bytes | None, stored_headers: dict[str, str] | None) -> Response:
    """The first answer as it was (the idempotency contract: a pending payment stays
    pending here), marked as a replay and pointing at the resource, whose GET has its
    current state. An answer stored without a Location gets one from its `links.self`."""
    headers = dict(stored_headers or {})
    headers["Idempotent-Replayed"] = "true"
    if "location" not in headers and body and status is not None and status < 300:
        try:
            link = orjson.loads(body).get("links", {}).get("self")
        except (orjson.JSONDecodeError, AttributeError):
            link = None
        if isinstance(link, str):
            headers["location"] = link
    return Response(body or b"", status_code=status or 200, headers=headers)


async def forward_idempotently(
    idempotency: Idempotency, answer: Answer, owner_id: str, *, key: str, fp: str
) -> Response:
    """The answer to a money-moving POST under an Idempotency-Key: the stored one, or
    `answer()` (the owning service's, which the route gets with the key sent along) kept
    for replays.

    The key also travels downstream, where the owning service keeps it unique per
    customer and answers a repeat with the resource it already made. That makes the
    service the guard against double spending, so here the hot path needs one read
    (a stored answer?) and one write (store this answer); requests in flight are
    tracked in memory, which gives 409 within this process (a repeat reaching another
    replica gets the service's own answer for the key). A stored answer is replayed
    before anything else, a step-up too: the replay needs no one-time code. An answer
    that raises (the gateway's 401 `step-up-required`) is not kept, so the same key
    goes through once the code is given; nor is a refusal (any 4xx), which made
    nothing: the corrected request goes through under the same key."""
    stored = await idempotency.lookup(owner_id, key, fp)
    if stored is not None:
        return stored
    slot = (owner_id, key)
    if (running := idempotency.in_flight.get(slot)) is not None:
        if running != fp:
            raise KeyReused()
        raise KeyInFlight()
    idempotency.in_flight[slot] = fp
    try:
        response = await answer()
        # Only what made something is kept. A refusal (4xx: bad input, a limit, a conflict)
        # made nothing, so the app may correct the request and send it under the same key;
        # a 5xx may be retried as it was.
        if response.status_code < 400:
            kept = {k: v for k, v in response.headers.items() if k in ("content-type", "location")}
            idempotency.remember(owner_id, key, fp, response.status_code, bytes(response.body), kept)
        return response
    finally:
        idempotency.in_flight.pop(slot, None)
