"""The gateway's HTTP/1.1 pool: answers read whole (chunked too), connections kept alive
and reused, given up when the service closes them or a call times out, and a refused
connection told apart from a call that was sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.routing.http1 import CallFailed, ConnectFailed, Pool
from tools.broker import free_port

PEERS: list[object] = []


@pytest.fixture
async def service() -> AsyncIterator[str]:
    """A service on a port of its own; `PEERS` lists the connection each request came on."""

    async def echo(request: web.Request) -> web.Response:
        PEERS.append(request.transport)
        body = await request.read()
        return web.json_response(
            {"method": request.method, "path": request.path_qs, "body": body.decode(), "id": request.headers["x-id"]},
            headers={"Location": "/there"},
        )

    async def chunked(request: web.Request) -> web.StreamResponse:
        PEERS.append(request.transport)
        answer = web.StreamResponse()
        answer.enable_chunked_encoding()
        await answer.prepare(request)
        for part in (b"one ", b"two ", b"three"):
            await answer.write(part)
        await answer.write_eof()
        return answer

    async def closing(request: web.Request) -> web.Response:
        PEERS.append(request.transport)
        return web.Response(text="bye", headers={"Connection": "close"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/closing", closing)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    PEERS.clear()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_call_sends_its_method_path_query_headers_and_body_and_reads_the_answer(service: str) -> None:
    pool = Pool()
    answer = await pool.request(
        "POST", f"{service}/echo", headers={"x-id": "r-1"}, body=b'{"a": 1}', params=[("q", "a b"), ("q", "&")]
    )
    assert answer.status == 200
    assert answer.headers["location"] == "/there"
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.body == b'{"method": "POST", "path": "/echo?q=a+b&q=%26", "body": "{\\"a\\": 1}", "id": "r-1"}'
    await pool.close()


async def test_calls_one_after_another_share_one_kept_alive_connection(service: str) -> None:
    pool = Pool()
    for n in range(3):
        assert (await pool.request("GET", f"{service}/echo", headers={"x-id": str(n)})).status == 200
    assert len(set(map(id, PEERS))) == 1
    await pool.close()


async def test_a_chunked_answer_is_read_whole(service: str) -> None:
    pool = Pool()
    assert (await pool.request("GET", f"{service}/chunked", headers={})).body == b"one two three"
    await pool.close()


async def test_a_connection_the_service_closes_is_not_used_again(service: str) -> None:
    pool = Pool()
    assert (await pool.request("GET", f"{service}/closing", headers={})).body == b"bye"
    await pool.request("GET", f"{service}/echo", headers={"x-id": "r-2"})
    assert len(set(map(id, PEERS))) == 2
    await pool.close()


async def test_a_call_past_its_timeout_fails_and_its_connection_is_not_reused(service: str) -> None:
    pool = Pool(total_timeout_s=0.2)
    with pytest.raises(TimeoutError):
        await pool.request("GET", f"{service}/slow", headers={})
    # The late answer must not be read as the next call's.
    assert (await pool.request("GET", f"{service}/echo", headers={"x-id": "r-3"})).body.endswith(b'"r-3"}')
    await pool.close()


async def test_a_refused_connection_is_told_apart_from_a_call_that_was_sent() -> None:
    pool = Pool()
    with pytest.raises(ConnectFailed):
        await pool.request("POST", f"http://127.0.0.1:{free_port('127.0.0.1')}/echo", headers={}, body=b"{}")
    await pool.close()


async def test_a_service_that_hangs_up_mid_answer_fails_the_call() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Pool()
    with pytest.raises(CallFailed) as failed:
        await pool.request("GET", f"http://127.0.0.1:{port}/", headers={})
    assert not isinstance(failed.value, ConnectFailed)
    await pool.close()
    server.close()


async def test_a_header_with_a_line_break_is_not_sent(service: str) -> None:
    pool = Pool()
    with pytest.raises(ValueError):
        await pool.request("GET", f"{service}/echo", headers={"x-id": "r\r\nx-evil: 1"})
    assert PEERS == []
    await pool.close()


async def test_past_the_most_connections_a_call_waits_for_one_to_come_back(service: str) -> None:
    pool = Pool(max_connections=1)
    answers = await asyncio.gather(
        *(pool.request("GET", f"{service}/echo", headers={"x-id": str(n)}) for n in range(3))
    )
    assert [a.status for a in answers] == [200, 200, 200]
    assert len(set(map(id, PEERS))) == 1
    await pool.close()


async def test_past_the_most_connections_an_idle_one_elsewhere_makes_room(service: str) -> None:
    pool = Pool(max_connections=1)
    await pool.request("GET", f"{service}/echo", headers={"x-id": "r-1"})
    other = service.replace("127.0.0.1", "localhost")  # the same service at another address
    assert (await pool.request("GET", f"{other}/echo", headers={"x-id": "r-2"})).status == 200
    assert len(set(map(id, PEERS))) == 2
    await pool.close()


def test_calls_work_on_uvloop_as_the_stack_runs_them() -> None:
    """uvloop's transports are not asyncio's classes: nothing may count on them being so."""
    uvloop = pytest.importorskip("uvloop")

    async def twice() -> list[bytes]:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        pool = Pool()
        try:
            return [(await pool.request("GET", url, headers={})).body for _ in range(2)]
        finally:
            await pool.close()
            server.close()

    assert uvloop.run(twice()) == [b"ok", b"ok"]


@pytest.fixture
async def hangs_up_on_second_call() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A service that answers a connection's first call and closes it, unanswered, when a
    second call comes on it, as a service does that closes its idle connections at the
    moment a call is written. It lists the request lines it read."""
    heard: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while head := await reader.readuntil(b"\r\n\r\n"):
            heard.append(head.split(b"\r\n", 1)[0])
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length")), 0
            )
            await reader.readexactly(length)
            if not first:
                writer.close()
                return
            first = False
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", heard
    server.close()


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {}), ("POST", {"Idempotency-Key": "k-1"})],
    ids=["safe-method", "idempotency-key"],
)
async def test_a_harmless_call_on_a_kept_connection_closed_unanswered_is_sent_once_more(
    hangs_up_on_second_call: tuple[str, list[bytes]], method: str, headers: dict[str, str]
) -> None:
    url, heard = hangs_up_on_second_call
    pool = Pool()
    await pool.request(method, f"{url}/one", headers=headers, body=b"{}" if method == "POST" else None)
    answer = await pool.request(method, f"{url}/two", headers=headers, body=b"{}" if method == "POST" else None)
    assert answer.body == b"ok"
    assert [line.split(b" ")[1] for line in heard] == [b"/one", b"/two", b"/two"]
    await pool.close()


async def test_a_post_without_a_key_on_a_kept_connection_closed_unanswered_is_not_sent_again(
    hangs_up_on_second_call: tuple[str, list[bytes]],
) -> None:
    url, heard = hangs_up_on_second_call
    pool = Pool()
    await pool.request("POST", f"{url}/one", headers={}, body=b"{}")
    with pytest.raises(CallFailed) as failed:
        await pool.request("POST", f"{url}/two", headers={}, body=b"{}")
    assert not isinstance(failed.value, ConnectFailed)
    assert [line.split(b" ")[1] for line in heard] == [b"/one", b"/two"]
    await pool.close()


async def test_a_call_on_a_new_connection_closed_unanswered_is_not_sent_again() -> None:
    """A new connection closed on its first call is the service failing, not an idle
    connection's race: even a GET is not sent twice."""
    heard: list[bytes] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    pool = Pool()
    with pytest.raises(CallFailed):
        await pool.request("GET", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/", headers={})
    assert len(heard) == 1
    await pool.close()
    server.close()
