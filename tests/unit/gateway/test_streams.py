"""Live streams' share of the gateway: each customer holds at most a few streams of each
kind, a stream gives its slot back however its answer ends, and each streaming service
has a connection pool of its own, apart from the calls'."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Message

from gateway import deps
from gateway.bootstrap import Overrides
from gateway.main import create_app
from gateway.routing.upstream import ITSELF, Upstreams
from gateway.settings import GatewaySettings, Settings
from gateway.streams import HeldStream, StreamSlots
from shared.auth import ROLE_CUSTOMER, Principal
from shared.errors import ServiceUnavailable
from shared.problems import Problem
from shared.settings import DbSettings, ServiceUrls
from tests.tokens import issuer

MARKET = "/v1/market/stream"
NOTIFICATIONS = "/v1/notifications/stream"
KEEP_ALIVE = b": keep-alive\n\n"


# --- the slots ----------------------------------------------------------------------------------


def test_a_customer_holds_at_most_the_cap_of_each_kind() -> None:
    slots = StreamSlots(per_customer=2)
    held = [slots.take(MARKET, "a"), slots.take(MARKET, "a")]

    with pytest.raises(Problem) as refused:
        slots.take(MARKET, "a")

    problem = refused.value
    assert (problem.status, problem.slug, problem.headers) == (429, "too-many-streams", {"Retry-After": "15"})
    assert slots.take(MARKET, "b") and slots.take(NOTIFICATIONS, "a")  # another customer, another kind
    held[0].release()
    assert slots.take(MARKET, "a")


def test_a_slot_is_given_back_once_however_often_it_is_released() -> None:
    slots = StreamSlots(per_customer=2)
    slot, _other = slots.take(MARKET, "a"), slots.take(MARKET, "a")

    slot.release()
    slot.release()

    assert slots.held(MARKET, "a") == 1


async def forever() -> AsyncIterator[bytes]:
    while True:
        yield b": keep-alive\n\n"
        await asyncio.sleep(0.01)


async def broken() -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    raise RuntimeError("the stream broke")


@dataclass
class Phone:
    """The ASGI side of one HTTP request: what the app sent, and a way to hang up."""

    sent: list[Message] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    _asked: bool = False

    async def receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.start":
            self.started.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


SCOPE: dict[str, Any] = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "method": "GET"}


async def test_a_held_stream_gives_its_slot_back_when_the_phone_hangs_up() -> None:
    slots, phone = StreamSlots(per_customer=1), Phone()
    answer = HeldStream(forever(), slots.take(MARKET, "a"))
    sending = asyncio.create_task(answer(SCOPE, phone.receive, phone.send))
    await asyncio.wait_for(phone.started.wait(), 2)
    assert slots.held(MARKET, "a") == 1

    phone.gone.set()
    await asyncio.wait_for(sending, 2)

    assert slots.held(MARKET, "a") == 0


async def test_a_held_stream_gives_its_slot_back_when_the_stream_breaks() -> None:
    slots, phone = StreamSlots(per_customer=1), Phone()
    answer = HeldStream(broken(), slots.take(MARKET, "a"))

    with pytest.raises(RuntimeError):
        await asyncio.wait_for(answer(SCOPE, phone.receive, phone.send), 2)

    assert slots.held(MARKET, "a") == 0


async def test_an_answer_never_sent_gives_its_slot_back() -> None:
    slots = StreamSlots(per_customer=1)
    answer = HeldStream(forever(), slots.take(MARKET, "a"))

    del answer

    assert slots.held(MARKET, "a") == 0


# --- through the gateway, to a service that streams -----------------------------------------------


@dataclass
class StreamingService:
    """A service on a real socket: an endless event stream for `Accept: text/event-stream`,
    a small JSON answer for anything else. Counts the streams it holds open."""

    url: str = ""
    open_streams: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            if b"accept: text/event-stream" not in head:
                body = b'{"items": []}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                return
            self.open_streams += 1
            try:
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                )
                while True:
                    writer.write(b"%x\r\n%s\r\n" % (len(KEEP_ALIVE), KEEP_ALIVE))
                    await writer.drain()
                    await asyncio.sleep(0.05)
            finally:
                self.open_streams -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def service() -> AsyncIterator[StreamingService]:
    running = StreamingService()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def gateway(tmp_path: Path, service: StreamingService) -> AsyncIterator[FastAPI]:
    settings = Settings(
        service="gateway",
        db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"),
        urls=ServiceUrls(securities=service.url),
        gateway=GatewaySettings(max_streams_per_customer=2),
    )
    upstreams = Upstreams(settings.urls, issuer("gateway"), stream_connections=50)
    app = create_app(settings, overrides=Overrides(upstreams=upstreams))

    async def customer(request: Request) -> Principal:
        return Principal(request.headers["x-customer"], frozenset({ROLE_CUSTOMER}), session_id="s", token="t")

    app.dependency_overrides[deps.authenticated] = customer
    yield app
    await upstreams.close()


async def open_stream(app: FastAPI, customer: str) -> tuple[Phone, asyncio.Task[None]]:
    phone = Phone()
    scope = {
        **SCOPE,
        "scheme": "http",
        "path": MARKET,
        "raw_path": MARKET.encode(),
        "query_string": b"symbols=600519",
        "headers": [(b"host", b"gateway"), (b"x-customer", customer.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
    }
    task = asyncio.create_task(app(scope, phone.receive, phone.send))
    await asyncio.wait_for(phone.started.wait(), 5)
    return phone, task


async def hang_up(phone: Phone, task: asyncio.Task[None]) -> None:
    phone.gone.set()
    await asyncio.wait_for(task, 5)


async def test_one_customer_holding_its_streams_leaves_others_theirs_and_a_closed_one_frees_a_slot(
    gateway: FastAPI, service: StreamingService
) -> None:
    held = [await open_stream(gateway, "a") for _ in range(2)]
    try:
        assert [phone.status for phone, _ in held] == [200, 200]

        refused, answered = await open_stream(gateway, "a")
        await asyncio.wait_for(answered, 5)
        other = await open_stream(gateway, "b")

        assert refused.status == 429 and refused.headers["retry-after"] == "15"
        assert refused.headers["content-type"] == "application/problem+json"
        assert b"too-many-streams" in refused.body()
        assert other[0].status == 200
        await hang_up(*other)

        await hang_up(*held.pop())
        again = await open_stream(gateway, "a")
        assert again[0].status == 200
        held.append(again)
    finally:
        for phone, task in held:
            await hang_up(phone, task)
    await eventually(lambda: service.open_streams == 0)  # each relayed stream closed at the service too


async def eventually(probe: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.02)


# --- the pools ----------------------------------------------------------------------------------


def relay_request(path: str = MARKET) -> Request:
    return Request({**SCOPE, "path": path, "query_string": b"", "headers": []})


async def test_a_full_stream_pool_leaves_another_services_streams_and_the_calls_alone(
    service: StreamingService,
) -> None:
    urls = ServiceUrls(securities=service.url, insurance=service.url, accounts=service.url)
    upstreams, slots = Upstreams(urls, issuer("gateway"), stream_connections=1), StreamSlots(per_customer=10)
    await upstreams.start()
    answers = []
    try:
        answers.append(await upstreams.relay_stream("securities", relay_request(), MARKET, **relay(slots)))

        with pytest.raises(ServiceUnavailable):  # securities' one connection is taken
            await upstreams.relay_stream("securities", relay_request(), MARKET, **relay(slots))
        answers.append(await upstreams.relay_stream("insurance", relay_request(), "/v1/x/stream", **relay(slots)))
        call = await upstreams.call("securities", "GET", "/v1/market/quotes", caller=ITSELF)

        assert [a.status_code for a in answers] == [200, 200]
        assert call.status_code == 200 and call.json() == {"items": []}
        assert slots.held(MARKET, "a") == 2  # the one refused gave its slot back
    finally:
        for answer in answers:
            if answer.background is not None:  # what closes the relayed stream
                await answer.background()
        await upstreams.close()


def relay(slots: StreamSlots) -> dict[str, Any]:
    return {"caller": ITSELF, "read_timeout_s": 5.0, "slot": slots.take(MARKET, "a")}
