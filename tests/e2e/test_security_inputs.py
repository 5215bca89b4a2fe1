"""What an attacker tries against the gateway of a running stack, and what each gets: bad
cursors and Last-Event-IDs a 400 before any stream starts, one customer's pile of streams
no hold on anyone else's, path parameters kept in their segment, answers that are not to
be stored or sniffed and name no server, and /metrics only for a token."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import Stack

pytestmark = pytest.mark.e2e

NOTIFICATIONS = "/v1/notifications/stream"
JUNK_IDS = ["99999999999999999999", "²", "-1", "1.5", "abc"]
# What the gateway answers on every response (shared/observability.py's RequestContextMiddleware).
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug), body
    assert "Traceback" not in r.text
    return body


def latin1(value: str) -> bytes:
    """A header as a client can put it on the wire: "²" is the one byte 0xB2."""
    return value.encode("latin-1")


@contextlib.asynccontextmanager
async def opened(
    stack: Stack,
    phone: Phone,
    path: str,
    *,
    headers: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> AsyncIterator[httpx.Response]:
    """One stream on a connection of its own, closed (the phone hangs up) on the way out."""
    timeout = httpx.Timeout(5.0, read=None)
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=timeout) as client,
        client.stream("GET", path, headers={**phone.auth, **(headers or {})}, params=params) as response,
    ):
        if response.status_code != 200:
            await response.aread()
        yield response


async def first_line(response: httpx.Response) -> str:
    async with asyncio.timeout(5):
        async for line in response.aiter_lines():
            if line:
                return line
    raise AssertionError("the stream ended before its first line")


# --- ids and cursors ----------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", JUNK_IDS)
async def test_a_notifications_cursor_not_ours_is_a_400(customer: Phone, cursor: str) -> None:
    assert_problem(await customer.get("/v1/notifications", params={"cursor": cursor}), 400, "invalid-cursor")


@pytest.mark.parametrize("last_event_id", JUNK_IDS)
async def test_a_junk_last_event_id_is_a_400_before_the_stream_starts(
    stack: Stack, customer: Phone, last_event_id: str
) -> None:
    async with opened(stack, customer, NOTIFICATIONS, headers={"Last-Event-ID": latin1(last_event_id)}) as r:
        assert_problem(r, 400, "invalid-cursor")
    async with opened(stack, customer, NOTIFICATIONS, params={"last_event_id": last_event_id}) as r:
        assert_problem(r, 400, "invalid-cursor")


async def test_a_last_event_id_past_every_id_opens_a_stream_that_stays(stack: Stack, customer: Phone) -> None:
    async with opened(stack, customer, NOTIFICATIONS, headers={"Last-Event-ID": "9" * 18}) as r:
        assert r.status_code == 200
        assert await first_line(r) == "retry: 2000"


# --- streams ------------------------------------------------------------------------------------

MARKET = "/v1/market/stream"
QUOTES = {"symbols": "600519"}


async def test_one_customers_pile_of_market_streams_leaves_everyone_elses(
    stack: Stack, gateway: httpx.AsyncClient, customer: Phone
) -> None:
    other = await register_and_login(gateway, name="Someone Else")
    async with contextlib.AsyncExitStack() as held:
        streams = [await held.enter_async_context(opened(stack, customer, MARKET, params=QUOTES)) for _ in range(5)]
        assert [s.status_code for s in streams] == [200] * 5

        async with opened(stack, customer, MARKET, params=QUOTES) as sixth:
            body = assert_problem(sixth, 429, "too-many-streams")
            assert int(sixth.headers["retry-after"]) > 0 and "at most 5" in body["detail"]
        async with opened(stack, other, MARKET, params=QUOTES) as theirs:
            assert theirs.status_code == 200
            assert (await first_line(theirs)).startswith("event: quote")
        async with opened(stack, customer, NOTIFICATIONS) as notifications:  # another kind
            assert notifications.status_code == 200


async def test_a_stream_closed_makes_room_for_another(stack: Stack, customer: Phone) -> None:
    async with contextlib.AsyncExitStack() as held:
        for _ in range(4):
            await held.enter_async_context(opened(stack, customer, MARKET, params=QUOTES))
        async with opened(stack, customer, MARKET, params=QUOTES) as fifth:
            assert fifth.status_code == 200
            async with opened(stack, customer, MARKET, params=QUOTES) as sixth:
                assert_problem(sixth, 429, "too-many-streams")

        async def accepted() -> bool:  # once the gateway has seen the fifth hang up
            async with opened(stack, customer, MARKET, params=QUOTES) as again:
                return again.status_code == 200

        assert await eventually(accepted, timeout_s=5)


# --- path parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("claim_id", ["%3F", "%23", "%3Fstatus=reported"])
async def test_a_path_parameter_stays_in_its_segment(customer: Phone, claim_id: str) -> None:
    body = assert_problem(await customer.get(f"/v1/insurance/claims/{claim_id}"), 404, "not-found")
    assert "items" not in body  # not the claim list


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/insurance/claims/%2E%2E"),
        ("GET", "/v1/accounts/%2E%2E/transactions"),
        ("POST", "/v1/insurance/claims/%2E%2E/submit"),
        ("GET", "/v1/market/quotes/%2E%2E"),
    ],
)
async def test_a_dot_segment_does_not_walk_up_a_services_path(customer: Phone, method: str, path: str) -> None:
    r = await customer.client.request(method, path, headers=customer.auth)

    body = assert_problem(r, 404, "not-found")
    assert "'..'" in body["detail"], body  # refused at the gateway, not at the path it led to


# --- what answers show --------------------------------------------------------------------------


async def test_answers_are_not_to_be_stored_sniffed_or_framed_and_name_no_server(
    stack: Stack, gateway: httpx.AsyncClient, customer: Phone
) -> None:
    for r in (
        await customer.get("/v1/accounts"),
        await customer.get("/v1/notifications"),
        await gateway.get("/v1/accounts"),
        await gateway.get("/healthz"),
    ):
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert {k: r.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
        assert "server" not in r.headers
    async with opened(stack, customer, NOTIFICATIONS) as stream:
        assert stream.headers.get_list("cache-control") == ["no-cache"]
        assert stream.headers["x-content-type-options"] == "nosniff"


async def test_metrics_and_internal_routes_need_a_token(
    gateway: httpx.AsyncClient, customer: Phone, operator_headers: dict[str, str]
) -> None:
    assert_problem(await gateway.get("/metrics"), 401, "unauthorized")
    assert_problem(await gateway.get("/internal/clock"), 401, "unauthorized")
    assert_problem(await customer.get("/metrics"), 403, "forbidden")

    r = await gateway.get("/metrics", headers=operator_headers)

    assert r.status_code == 200 and 'sandbank_outbox_backlog{service="gateway"}' in r.text
