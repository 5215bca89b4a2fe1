"""Idempotency keys on money-moving POSTs, after the IETF Idempotency-Key draft.

- the same key with the same body replays the stored response;
- the same key with another body is refused with 422;
- the same key while the first request is still running gets 409;
- keys are per customer and kept for 24 hours.

The final response is stored in the same transaction as the request's effects
(`finish` takes the unit of work), so a crash can never leave a deposit made
without its key marked done, or the reverse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import store
from shared.clock import Clock
from shared.db import Database
from shared.problems import Problem

RETENTION = timedelta(hours=24)
# A request still marked in flight after this long died with its process: let a retry in.
ABANDONED_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Claim:
    owner_id: str
    key: str


def fingerprint(request: Request, body: bytes) -> str:
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.url.path.encode() + b"\n" + canonical)
    return digest.hexdigest()


def read_key(request: Request, *, required: bool) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise Problem(
                400,
                "idempotency-key-missing",
                "this request moves money: send an Idempotency-Key header (e.g. a UUID)",
            )
        return None
    key = key.strip().strip('"')
    if not (1 <= len(key) <= 255) or not key.isprintable():
        raise Problem(400, "idempotency-key-invalid", "Idempotency-Key must be 1-255 printable characters")
    return key


class Idempotency:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def begin(self, owner_id: str, key: str, fp: str) -> Response | Claim:
        """Claim the key for this request, or answer with the stored outcome."""
        now = self.clock.now()
        async with self.db.write() as session, session.begin():
            row = await session.get(store.IdempotencyKey, (owner_id, key))
            if row is not None:
                created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=now.tzinfo)
                expired = now - created > RETENTION
                abandoned = row.state == "in_flight" and now - created > ABANDONED_AFTER
                if expired or abandoned:
                    await session.delete(row)
                    await session.flush()
                    row = None
            if row is None:
                session.add(
                    store.IdempotencyKey(owner_id=owner_id, key=key, fingerprint=fp, state="in_flight", created_at=now)
                )
                try:
                    await session.flush()
                except IntegrityError:
                    raise _in_flight() from None
                return Claim(owner_id, key)
            if row.fingerprint != fp:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "this Idempotency-Key was already used with a different request body",
                )
            if row.state == "in_flight":
                raise _in_flight()
            headers = dict(row.response_headers or {})
            headers["Idempotent-Replayed"] = "true"
            return Response(
                row.response_body or b"",
                status_code=row.status_code or 200,
                headers=headers,
            )

    @staticmethod
    async def finish(
        session: AsyncSession, claim: Claim, status_code: int, body: bytes, headers: dict[str, str]
    ) -> None:
        row = await session.get(store.IdempotencyKey, (claim.owner_id, claim.key))
        if row is None:
            return
        row.state = "done"
        row.status_code = status_code
        row.response_body = body
        row.response_headers = headers

    async def complete(self, claim: Claim, status_code: int, body: bytes, headers: dict[str, str]) -> None:
        """Store an outcome that wrote nothing else (a client error, say)."""
        async with self.db.write() as session, session.begin():
            await self.finish(session, claim, status_code, body, headers)

    async def abandon(self, claim: Claim) -> None:
        """Forget a claim whose request failed for a reason a retry may not meet."""
        async with self.db.write() as session, session.begin():
            await session.execute(
                delete(store.IdempotencyKey).where(
                    store.IdempotencyKey.owner_id == claim.owner_id,
                    store.IdempotencyKey.key == claim.key,
                )
            )

    async def purge_expired(self) -> None:
        async with self.db.write() as session, session.begin():
            await session.execute(
                delete(store.IdempotencyKey).where(store.IdempotencyKey.created_at < self.clock.now() - RETENTION)
            )


def _in_flight() -> Problem:
    return Problem(
        409,
        "idempotency-key-in-flight",
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


__all__ = ["Claim", "Idempotency", "fingerprint", "read_key"]


async def forward_idempotently(request: Request, owner_id: str, service: str, path: str, *, token: str) -> Response:
    """Forward a money-moving POST to the service that owns it, under an Idempotency-Key.

    The key also travels downstream, where the owning service keeps it unique per
    customer: if the gateway dies between the service's answer and storing it here,
    the retry reaches the service again and gets the same resource back."""
    idempotency: Idempotency = request.app.state.idempotency
    key = read_key(request, required=True)
    assert key is not None
    body = await request.body()
    outcome = await idempotency.begin(owner_id, key, fingerprint(request, body))
    if isinstance(outcome, Response):
        return outcome
    try:
        response = await request.app.state.upstreams.forward(
            service, request, path, token=token, extra_headers={"idempotency-key": key}
        )
    except BaseException:
        await idempotency.abandon(outcome)
        raise
    if response.status_code >= 500 or response.status_code in (409, 429):
        await idempotency.abandon(outcome)
    else:
        headers = {k: v for k, v in response.headers.items() if k in ("content-type", "location")}
        await idempotency.complete(outcome, response.status_code, bytes(response.body), headers)
    return response
