"""Token buckets: a burst, then the steady rate; a Retry-After that tells the truth."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.ratelimit import (
    QUOTA_STATE,
    AttemptLimits,
    IpRateLimitMiddleware,
    RateLimiter,
    TokenBucket,
    retry_after,
)
from shared.problems import Problem


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refuses_with_the_wait_for_the_next_token() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_a_bucket_refills_at_its_rate_but_never_past_its_burst() -> None:
    bucket = TokenBucket(rate_per_s=10, burst=5, now=0.0)
    for _ in range(5):
        bucket.take(0.0)
    assert bucket.take(0.3) == 0.0  # 3 tokens back, one taken
    assert bucket.tokens == pytest.approx(2)
    bucket.take(100.0)
    assert bucket.tokens == pytest.approx(4)  # capped at 5, one taken


def test_a_clock_going_backwards_neither_grants_nor_takes_anything() -> None:
    bucket = TokenBucket(rate_per_s=1, burst=1, now=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) == pytest.approx(1.0)
    assert bucket.take(11.0) == 0.0


@pytest.mark.parametrize(("wait", "header"), [(0.001, "1"), (0.5, "1"), (1.0, "1"), (1.01, "2"), (59.2, "60")])
def test_retry_after_rounds_up_to_whole_seconds(wait: float, header: str) -> None:
    assert retry_after(wait) == header


def test_the_limiter_keeps_a_bucket_per_key() -> None:
    time = FakeTime()
    limiter = RateLimiter(1, 2, clock=time)
    assert [limiter.take("a") for _ in range(3)][-1] > 0
    assert limiter.take("b") == 0.0
    assert limiter.refused == 1
    time.now += 1
    assert limiter.take("a") == 0.0


def test_the_limiter_forgets_idle_buckets_first_when_full() -> None:
    time = FakeTime()
    limiter = RateLimiter(1, 2, max_keys=3, clock=time)
    for key in ("idle-1", "idle-2"):
        limiter.take(key)
    time.now += 10  # long enough for both to be full again
    limiter.take("busy")
    limiter.take("busy")
    limiter.take("new")  # the store is full: the idle ones go
    assert len(limiter) == 2
    assert limiter.take("busy") > 0  # the busy bucket was kept, empty as it was


def test_the_limiter_bounds_its_memory_even_when_every_key_is_busy() -> None:
    time = FakeTime()
    limiter = RateLimiter(1, 1, max_keys=10, clock=time)
    for n in range(100):
        limiter.take(f"ip-{n}")
    assert len(limiter) <= 10


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 5), (1, 0)])
def test_a_limit_needs_a_rate_and_a_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


async def test_the_middleware_answers_429_problem_json_per_address_and_skips_probes() -> None:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/v1/thing", ok), Route("/healthz", ok)])
    limited = IpRateLimitMiddleware(app, RateLimiter(0.001, 2))

    def client(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=limited, client=(ip, 1)), base_url="http://t")

    async with client("198.51.100.1") as one, client("198.51.100.2") as two:
        assert [(await one.get("/v1/thing")).status_code for _ in range(2)] == [200, 200]
        refused = await one.get("/v1/thing")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "https://sandbank.dev/problems/rate-limited"
        assert int(refused.headers["retry-after"]) >= 999
        assert (await one.get("/healthz")).status_code == 200
        assert (await two.get("/v1/thing")).status_code == 200


# --- attempts per address and per phone number ---------------------------------------------------


def attempts(time: FakeTime, address_burst: int = 3, phone_burst: int = 2) -> AttemptLimits:
    return AttemptLimits(
        "login attempts",
        RateLimiter(0.1, address_burst, clock=time),
        RateLimiter(0.01, phone_burst, clock=time),
    )


def refusal(limits: AttemptLimits, address: str, phone: str) -> Problem | None:
    try:
        limits.take(address, phone)
    except Problem as problem:
        return problem
    return None


def test_an_address_is_refused_past_its_burst_with_retry_after() -> None:
    limits = attempts(FakeTime())
    assert [refusal(limits, "203.0.113.7", f"+86138000000{i:02d}") for i in range(3)] == [None] * 3
    refused = refusal(limits, "203.0.113.7", "+8613800000099")
    assert refused is not None and refused.status == 429 and refused.headers == {"Retry-After": "10"}
    assert "login attempts from this address" in refused.detail
    assert refusal(limits, "203.0.113.8", "+8613800000099") is None  # another address is not held up


def test_a_phone_number_is_refused_past_its_burst_from_any_address_and_the_address_keeps_its_token() -> None:
    limits = attempts(FakeTime(), address_burst=3, phone_burst=2)
    assert refusal(limits, "203.0.113.1", "+8613800000001") is None
    assert refusal(limits, "203.0.113.2", "+8613800000001") is None
    refused = refusal(limits, "203.0.113.3", "+8613800000001")
    assert refused is not None and "from this phone number" in refused.detail
    # The refused attempt took nothing from its address: three more go through there.
    assert [refusal(limits, "203.0.113.3", f"+86138000001{i:02d}") for i in range(3)] == [None] * 3


def test_a_refunded_attempt_does_not_count() -> None:
    limits = attempts(FakeTime(), address_burst=1, phone_burst=1)
    for _ in range(5):  # good passwords, each given back
        assert refusal(limits, "203.0.113.7", "+8613800000001") is None
        limits.refund("203.0.113.7", "+8613800000001")
    assert refusal(limits, "203.0.113.7", "+8613800000001") is None
    assert refusal(limits, "203.0.113.7", "+8613800000001") is not None


def test_a_customers_quota_is_what_is_left_and_the_seconds_until_full() -> None:
    clock = FakeTime()
    limiter = RateLimiter(rate_per_s=2, burst=10, clock=clock)
    assert limiter.quota("new") == (10, 0)
    for _ in range(4):
        limiter.take("c")
    assert limiter.quota("c") == (6, 2)
    clock.now += 1
    limiter.take("c")
    assert limiter.quota("c") == (7, 2)


async def test_an_answer_carries_the_ratelimit_headers_its_request_left() -> None:
    async def quota(request: Request) -> PlainTextResponse:
        setattr(request.state, QUOTA_STATE, (100, 97, 2))
        return PlainTextResponse("ok")

    async def anonymous(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = IpRateLimitMiddleware(
        Starlette(routes=[Route("/q", quota), Route("/a", anonymous)]), RateLimiter(rate_per_s=1, burst=5)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/q")
        plain = await client.get("/a")
    assert (r.headers["ratelimit-limit"], r.headers["ratelimit-remaining"], r.headers["ratelimit-reset"]) == (
        "100",
        "97",
        "2",
    )
    assert "ratelimit-limit" not in plain.headers
