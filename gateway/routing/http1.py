"""A pooled HTTP/1.1 client for the gateway's calls to the services: one request, one
answer read whole, on a kept-alive connection.

The gateway's calls are plain (a small body, an answer read whole, over http:// inside
the deployment), and aiohttp spent a third of a transfer request's instructions at the
gateway on each: its request and response objects, a task of its own to write every
POST's body, its timers. Here a call is one write of the request's bytes and one future
that httptools' parser (the one uvicorn serves with) completes when the answer is in.

A connection goes back to its address's idle list when its answer is complete and both
sides keep it alive; one idle for `KEEPALIVE_S` is closed at its next turn (the services
keep theirs for 65 s), one the service closed leaves the list as it closes. Errors say
where the call stopped: `ConnectFailed` before anything was sent (another replica may
take the call, even a POST), `CallFailed` after (the service may have acted on it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import httptools

KEEPALIVE_S = 30.0
CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 200


class CallFailed(Exception):
    """The call was sent, or may have been, and got no whole answer."""


class ConnectFailed(CallFailed):
    """No connection to the address: nothing of the call was sent."""


class Answer:
    """A service's answer: its status, its headers (names lower-cased; the last of a
    repeated one) and its body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    """One kept-alive connection, with httptools reading the answer to its current call."""

    def __init__(self, pool: Pool, address: tuple[str, int]) -> None:
        self.pool = pool
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[Answer] | None = None
        self._parser: Any = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, request: bytes, answer: asyncio.Future[Answer]) -> None:
        assert self.transport is not None
        self._answer = answer
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._body = {}, []
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        if self._answer is None:  # nothing asked: a service does not speak first
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(CallFailed(f"unreadable answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        self._fail(CallFailed("the service closed the connection"))

    # httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer, self._answer = self._answer, None
        status = self._parser.get_status_code()
        if self._parser.should_keep_alive():
            self.pool.release(self)
        else:
            self.close()
        if answer is not None and not answer.done():
            answer.set_result(Answer(status, self._headers, b"".join(self._body)))

    def _fail(self, error: CallFailed) -> None:
        answer, self._answer = self._answer, None
        if answer is not None:
            self.close()
            if not answer.done():
                answer.set_exception(error)

    def close(self) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Kept-alive connections to the services' addresses, at most `max_connections` open."""

    def __init__(
        self,
        *,
        max_connections: int = MAX_CONNECTIONS,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        total_timeout_s: float = TOTAL_TIMEOUT_S,
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.total_timeout_s = total_timeout_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    ) -> Answer:
        """`method` `url` (http://host:port/path) with `headers` and `body`; the whole answer
        within the total timeout (TimeoutError past it)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ConnectFailed(f"not an http:// address: {url}")
        address = (parts.hostname, parts.port or 80)
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, urlencode(params) if params else "") if q)
        if query:
            target += "?" + query
        lines = [f"{method} {target} HTTP/1.1", f"host: {parts.netloc}"]
        for name, value in headers.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name} has a line break")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {len(body or b'')}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        async with asyncio.timeout(self.total_timeout_s), self._slots:
            connection = await self._connection(address)
            answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            connection.send(request, answer)
            try:
                return await answer
            except BaseException:
                connection.close()  # an answer still on its way would be read as the next one's
                raise

    async def _connection(self, address: tuple[str, int]) -> _Connection:
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < KEEPALIVE_S:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, made = await loop.create_connection(lambda: _Connection(self, address), *address)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"no connection to {address[0]}:{address[1]}: {exc!r}") from None
        self._open.add(made)
        return made

    def release(self, connection: _Connection) -> None:
        """A connection whose answer is complete: ready for the next call to its address."""
        if not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.address, []).append(connection)

    def forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        idle = self._idle.get(connection.address)
        if idle and connection in idle:
            idle.remove(connection)

    async def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
