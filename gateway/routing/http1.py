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

A kept-alive connection can be closed by the service at the moment a call is written on
it (a service restarting closes its idle connections): the call then fails with not a
byte of an answer, though the service may never have read it. Such a call is sent once
more on a new connection if sending it twice is harmless: a GET, HEAD or OPTIONS, or a
call under an `Idempotency-Key`, which the service answers once (the rule Go's
net/http follows). Any other call fails as sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import httptools

KEEPALIVE_S = 30.0
CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 200
# Calls that may be sent again when a kept-alive connection closes before any answer.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        # asyncio's transport, or uvloop's (the stack's loop), which is not an asyncio.Transport.
        self.transport: Any = None
        self.closed = False
        self.idle_since = 0.0
        # Calls written on this connection, and whether the current one heard a byte back.
        self.calls = 0
        self.heard = False
        self._answer: asyncio.Future[Answer] | None = None
        self._parser: Any = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        # One parser for the connection's answers, one after another (kept alive).
        self._parser = httptools.HttpResponseParser(self)

    def send(self, request: bytes, answer: asyncio.Future[Answer]) -> None:
        self._answer = answer
        self._headers, self._body = {}, []
        self.calls += 1
        self.heard = False
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        if self._answer is None:  # nothing asked: a service does not speak first
            self.close()
            return
        self.heard = True
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


def _replayable(method: str, headers: Mapping[str, str]) -> bool:
    """Whether sending the call twice is harmless: a safe method, or an Idempotency-Key."""
    return method in SAFE_METHODS or any(name.lower() == "idempotency-key" for name in headers)


def _expire(answer: asyncio.Future[Answer]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


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
        self.max_connections = max_connections
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._connecting = 0
        # Calls waiting for a connection while `max_connections` are open.
        self._waiting: deque[asyncio.Future[None]] = deque()
        # Each service's address as its base URL (`http://host:port`) names it.
        self._addresses: dict[str, tuple[tuple[str, int], str]] = {}

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
        split = url.find("/", len("http://"))
        base, target = (url, "/") if split < 0 else (url[:split], url[split:])
        address, netloc = self._addresses.get(base) or self._address(base)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        lines = [f"{method} {target} HTTP/1.1", f"host: {netloc}"]
        for name, value in headers.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name} has a line break")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {len(body or b'')}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_timeout_s
        connection = self._kept(address) or await self._connection(address, deadline)
        try:
            return await self._call(connection, request, deadline)
        except CallFailed:
            if connection.calls == 1 or connection.heard or not _replayable(method, headers):
                raise
        # A kept-alive connection closed on the call before a byte of its answer: once more.
        return await self._call(await self._connection(address, deadline), request, deadline)

    async def _call(self, connection: _Connection, request: bytes, deadline: float) -> Answer:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        # The total timeout as one timer on the answer (asyncio.timeout's context manager,
        # around every call, cost more than the rest of the wait).
        expiry = loop.call_at(deadline, _expire, answer)
        connection.send(request, answer)
        try:
            return await answer
        except BaseException:
            connection.close()  # an answer still on its way would be read as the next one's
            raise
        finally:
            expiry.cancel()

    def _address(self, base: str) -> tuple[tuple[str, int], str]:
        parts = urlsplit(base)
        if parts.scheme != "http" or parts.hostname is None:
            raise ConnectFailed(f"not an http:// address: {base}")
        found = self._addresses[base] = ((parts.hostname, parts.port or 80), parts.netloc)
        return found

    def _kept(self, address: tuple[str, int]) -> _Connection | None:
        """An idle connection to `address`, if one is still good."""
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if (
                not connection.closed
                and not connection.transport.is_closing()
                and now - connection.idle_since < KEEPALIVE_S
            ):
                return connection
            connection.close()
        return None

    async def _connection(self, address: tuple[str, int], deadline: float) -> _Connection:
        """A new connection to `address`, once fewer than `max_connections` are open: an
        idle one to another address is closed to make room, or else the call waits for a
        connection to come back."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(deadline):
            while len(self._open) + self._connecting >= self.max_connections:
                if spare := next((c for idle in self._idle.values() for c in idle), None):
                    spare.close()
                    continue
                turn = loop.create_future()
                self._waiting.append(turn)
                await turn
                if kept := self._kept(address):
                    return kept
        self._connecting += 1
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, made = await loop.create_connection(lambda: _Connection(self, address), *address)
        except (OSError, TimeoutError) as exc:
            self._next_turn()
            raise ConnectFailed(f"no connection to {address[0]}:{address[1]}: {exc!r}") from None
        finally:
            self._connecting -= 1
        self._open.add(made)
        return made

    def release(self, connection: _Connection) -> None:
        """A connection whose answer is complete: ready for the next call to its address."""
        if not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.address, []).append(connection)
            self._next_turn()

    def forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        idle = self._idle.get(connection.address)
        if idle and connection in idle:
            idle.remove(connection)
        self._next_turn()

    def _next_turn(self) -> None:
        """Let a call waiting for a connection look again."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    async def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
