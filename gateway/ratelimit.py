"""Abuse limits: token buckets per client IP (before anything else) and per customer
(once the token is verified), answered with 429 problem+json and Retry-After; and
`AttemptLimits` for what is costly or guessable (logging in, registering), per client
address and per phone number.

Buckets live in this process's memory: each gateway replica limits what reaches it.
A bucket holds up to `burst` tokens and refills at `rate_per_s`; a request takes one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem, problem_response

# Probes and scrapes are not the public's traffic.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class TokenBucket:
    """One bucket, for tests and for reading the rule; `RateLimiter` keeps many compactly."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 if granted, else the seconds until one is there."""
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """Token buckets by key (an IP, a customer id) with a bound on how many are kept: past
    `max_keys`, buckets idle long enough to be full again are dropped (they would
    grant the same as a new one)."""

    def __init__(
        self, rate_per_s: float, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self.refused = 0

    def take(self, key: str) -> float:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        wait = bucket.take(now)
        if wait:
            self.refused += 1
        return wait

    def quota(self, key: str) -> tuple[int, int]:
        """What `key`'s bucket has left after its last take, and the whole seconds until it
        is full again: the `RateLimit-Remaining` and `RateLimit-Reset` an answer shows."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.burst, 0
        return int(bucket.tokens), math.ceil((bucket.burst - bucket.tokens) / bucket.rate)

    def refund(self, key: str) -> None:
        """Give back the token a request took, for a request that turned out not to count."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(float(bucket.burst), bucket.tokens + 1)

    def _evict(self, now: float) -> None:
        refill_s = self.burst / self.rate
        idle = [k for k, b in self._buckets.items() if now - b.updated >= refill_s]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: self.max_keys // 2]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))


def limited(what: str, wait_s: float, attempts: str = "requests") -> Problem:
    return Problem(
        429,
        "rate-limited",
        f"too many {attempts} from this {what}; slow down and retry after {retry_after(wait_s)} s",
        headers={"Retry-After": retry_after(wait_s)},
    )


class AttemptLimits:
    """Attempts at one thing (`attempts`: "login attempts") per client address and per phone
    number. `take` raises the 429 when either is spent; `refund` gives both tokens back,
    for an attempt that should not count (a good password)."""

    def __init__(self, attempts: str, per_address: RateLimiter, per_phone: RateLimiter) -> None:
        self.attempts = attempts
        self.per_address = per_address
        self.per_phone = per_phone

    def take(self, address: str, phone: str) -> None:
        wait = self.per_address.take(address)
        if wait:
            raise limited("address", wait, self.attempts)
        wait = self.per_phone.take(phone)
        if wait:
            self.per_address.refund(address)
            raise limited("phone number", wait, self.attempts)

    def refund(self, address: str, phone: str) -> None:
        self.per_address.refund(address)
        self.per_phone.refund(phone)


# Where `authenticated` (gateway/deps.py) leaves the customer's quota for the answer's
# headers: (limit, remaining, reset seconds).
QUOTA_STATE = "ratelimit_quota"


def quota_headers(limit: int, remaining: int, reset_s: int) -> list[tuple[bytes, bytes]]:
    """The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers), for the
    per-customer limit: the burst, the requests left in it, the seconds until it is full."""
    return [
        (b"ratelimit-limit", str(limit).encode()),
        (b"ratelimit-remaining", str(remaining).encode()),
        (b"ratelimit-reset", str(reset_s).encode()),
    ]


class IpRateLimitMiddleware:
    """Per client IP, before authentication, body parsing or routing. It also puts the
    customer's quota, once `authenticated` has taken from it, on the way out."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limiter.take(client[0] if client else "unknown")
        if not wait:
            # One dict shared with the request's `state`, even where a scope is copied below.
            state = scope.setdefault("state", {})

            async def send_with_quota(message: Message) -> None:
                if message["type"] == "http.response.start" and (quota := state.get(QUOTA_STATE)) is not None:
                    message["headers"] = [*message.get("headers", ()), *quota_headers(*quota)]
                await send(message)

            await self.app(scope, receive, send_with_quota)
            return
        await problem_response(limited("address", wait), scope.get("path"))(scope, receive, send)
