"""A service behind several addresses (its replicas, ADR 0018): the gateway takes them in
turn, and a call whose connection is refused goes to the next one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from gateway.routing.upstream import ITSELF, Upstreams
from shared.errors import ServiceUnavailable
from shared.settings import ServiceUrls
from tests.tokens import issuer
from tools.broker import free_port

HEARD: list[tuple[str, str, str]] = []


@pytest.fixture
async def replica() -> AsyncIterator[Callable[[str], str]]:
    """Starts a server that answers every request with its name; returns its URL."""
    runners: list[web.AppRunner] = []

    async def start(name: str) -> str:
        async def answer(request: web.Request) -> web.Response:
            HEARD.append((name, request.method, request.path))
            return web.json_response({"replica": name, "method": request.method})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port("127.0.0.1")
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    HEARD.clear()
    yield start  # type: ignore[misc]
    for runner in runners:
        await runner.cleanup()


async def upstreams_for(payments: str) -> Upstreams:
    upstreams = Upstreams(ServiceUrls(payments=payments), issuer("gateway"))
    await upstreams.start()
    return upstreams


async def answers(upstreams: Upstreams, n: int, method: str = "GET") -> list[str]:
    found = []
    for _ in range(n):
        r = await upstreams.call("payments", method, "/v1/payments/x", caller=ITSELF)
        found.append(r.json()["replica"])
    return found


async def test_calls_take_the_replicas_in_turn(replica: Callable) -> None:
    one, two = await replica("one"), await replica("two")
    upstreams = await upstreams_for(f"{one}, {two}/")
    try:
        assert await answers(upstreams, 4) == ["one", "two", "one", "two"]
    finally:
        await upstreams.close()


async def test_a_refused_connection_goes_to_the_next_replica(replica: Callable) -> None:
    live = await replica("live")
    dead = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    upstreams = await upstreams_for(f"{dead},{live}")
    try:
        assert await answers(upstreams, 4, method="POST") == ["live"] * 4
    finally:
        await upstreams.close()


async def test_no_replica_answering_is_service_unavailable() -> None:
    dead = [f"http://127.0.0.1:{free_port('127.0.0.1')}" for _ in range(2)]
    upstreams = await upstreams_for(",".join(dead))
    try:
        with pytest.raises(ServiceUnavailable):
            await upstreams.call("payments", "GET", "/v1/payments/x", caller=ITSELF)
    finally:
        await upstreams.close()


async def test_call_each_reaches_every_replica(replica: Callable) -> None:
    one, two = await replica("one"), await replica("two")
    upstreams = await upstreams_for(f"{one},{two}")
    try:
        r = await upstreams.call_each("payments", "PUT", "/internal/clock", caller=ITSELF, json={"offset_s": 1})
    finally:
        await upstreams.close()
    assert r.status_code == 200
    assert sorted(HEARD) == [("one", "PUT", "/internal/clock"), ("two", "PUT", "/internal/clock")]
