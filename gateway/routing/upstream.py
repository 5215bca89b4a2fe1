"""The gateway's pooled HTTP clients to the services (queries and synchronous commands).

Request/response calls go through one pool of kept-alive HTTP/1.1 connections
(gateway/routing/http1.py): with it a transfer request at the gateway costs 1.58 M
instructions instead of aiohttp's 1.97 M (bench.reqpath gateway 500 vs 0), and aiohttp
cost a fraction of httpx's. httpx stays for streaming relays (SSE), with a pool per
service: a relayed stream holds its connection for as long as it is open, so one
service's streams cannot take the connections of another's, nor the calls'.

A service may run as several replicas (ADR 0018): its setting (`SERVICE_URL_PAYMENTS`)
then lists their addresses, comma-separated. Calls take them in turn; a call whose
connection is refused goes to the next one (nothing reached the dead one, so even a
POST is safe to send on).

An unreachable service raises shared/errors.py's `ServiceUnavailable` (every app answers
it 503), a refusal the gateway passes on raises `UpstreamRefused` (gateway/routing/errors.py
says how the public API answers it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.background import BackgroundTask

from gateway.errors import Refused
from gateway.routing.http1 import CallFailed, ConnectFailed, Pool
from gateway.streams import HeldStream, Slot
from shared.auth import Principal, TokenIssuer
from shared.errors import ServiceUnavailable
from shared.observability import outgoing_headers
from shared.settings import ServiceUrls, TracingSettings
from shared.tracing import Tracing

# What a service's answer keeps on its way back: a file's name and ETag too.
_PASS_HEADERS = ("content-type", "retry-after", "location", "content-disposition", "etag")
# What a passed-on problem takes from the gateway's own answer rather than the service's.
_PROBLEM_MEMBERS = ("type", "title", "status", "detail", "request_id", "instance")
# How long a new stream waits for a connection of a full pool before it is a 503.
STREAM_POOL_WAIT_S = 1.0

log = logging.getLogger(__name__)


class UpstreamRefused(Refused):
    """A service answered a call of the gateway's own with a problem (or an error)."""

    def __init__(self, service: str, status: int, body: dict[str, Any]) -> None:
        facts = {k: v for k, v in body.items() if k not in _PROBLEM_MEMBERS}
        super().__init__(str(body.get("detail", "the service refused the request")), **facts)
        self.service = service
        self.status = status
        self.code = str(body.get("type", "")).rsplit("/", 1)[-1] or "upstream-error"


@dataclass(frozen=True)
class UpstreamResponse:
    service: str
    status_code: int
    content: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return orjson.loads(self.content)

    def raise_for_problem(self) -> None:
        """Raise the service's problem+json answer, to be passed on as the gateway's own."""
        if self.status_code < 400:
            return
        try:
            body = self.json()
        except ValueError:
            body = {}
        raise UpstreamRefused(self.service, self.status_code, body if isinstance(body, dict) else {})


# Who a call to a service is for: a principal the gateway verified (with a live session),
# the gateway itself as a service (`ITSELF`), or nobody (None: a public route, no token).
ITSELF: Literal["gateway"] = "gateway"
Caller = Principal | Literal["gateway"] | None


class Upstreams:
    """Calls to the services, each with a token minted for that service alone and for one
    hop: on a caller's behalf, or the gateway's own. The phone's token never leaves the
    gateway."""

    def __init__(
        self, urls: ServiceUrls, tokens: TokenIssuer, *, stream_connections: int = 500, tracing: Tracing | None = None
    ) -> None:
        # A client span per call, whose traceparent the service's server span continues.
        self.tracing = tracing or Tracing("gateway", TracingSettings(sdk_disabled=True))
        self.urls = urls
        self.tokens = tokens
        self.stream_connections = stream_connections
        self._pool: Pool | None = None
        self._streams: dict[str, httpx.AsyncClient] = {}
        self._replicas: dict[str, list[str]] = {}
        self._turns: dict[str, int] = {}

    async def start(self) -> None:
        """Open the pool (within the app's lifespan, on its event loop)."""
        self._pool = Pool()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        for client in self._streams.values():
            await client.aclose()

    def stream_client(self, service: str) -> httpx.AsyncClient:
        """The pool `service`'s relayed streams share, made at the first one."""
        client = self._streams.get(service)
        if client is None:
            client = self._streams[service] = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=self.stream_connections, max_keepalive_connections=10),
                timeout=httpx.Timeout(10.0, connect=2.0, pool=STREAM_POOL_WAIT_S),
            )
        return client

    def token(self, service: str, caller: Caller) -> str | None:
        if caller is None:
            return None
        if caller == ITSELF:
            return self.tokens.service_token(service)
        assert isinstance(caller, Principal)
        return self.tokens.on_behalf(caller, service)

    def replicas(self, service: str) -> list[str]:
        """The base URLs of a service's replicas, from its comma-separated setting."""
        found = self._replicas.get(service)
        if found is None:
            listed = str(getattr(self.urls, service)).split(",")
            found = self._replicas[service] = [u.strip().rstrip("/") for u in listed if u.strip()]
        return found

    def turn(self, service: str) -> int:
        """Where the next call to `service` starts among its replicas (round robin)."""
        turn = self._turns.get(service, 0)
        self._turns[service] = turn + 1
        return turn

    def url(self, service: str, path: str, *, turn: int | None = None) -> str:
        """`path` at the service's replica for `turn` (the next one when None)."""
        bases = self.replicas(service)
        return bases[(self.turn(service) if turn is None else turn) % len(bases)] + path

    async def _request(
        self, service: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None, params: Any
    ) -> UpstreamResponse:
        if self._pool is None:
            raise RuntimeError("Upstreams.start() was not awaited")
        start, tries = self.turn(service), len(self.replicas(service))
        for attempt in range(tries):
            url = self.url(service, path, turn=start + attempt)
            try:
                with self.tracing.outgoing(method, url) as traced:
                    answer = await self._pool.request(method, url, headers=headers | traced, body=body, params=params)
                    return UpstreamResponse(
                        service,
                        answer.status,
                        answer.body,
                        {k: v for k, v in answer.headers.items() if k in _PASS_HEADERS},
                    )
            except ConnectFailed:
                if attempt + 1 == tries:
                    raise ServiceUnavailable(service) from None
            except (CallFailed, TimeoutError):
                raise ServiceUnavailable(service) from None
        raise ServiceUnavailable(service)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        caller: Caller,
        json: Any = None,
        params: Any = None,
    ) -> UpstreamResponse:
        headers = outgoing_headers(self.token(service, caller))
        if json is not None:
            headers["content-type"] = "application/json"
        body = orjson.dumps(json) if json is not None else None
        return await self._request(service, method, path, headers=headers, body=body, params=params)

    async def call_each(
        self, service: str, method: str, path: str, *, caller: Caller, json: Any = None, down_ok: bool = False
    ) -> UpstreamResponse:
        """The same call to every replica of `service` (state each keeps in memory, such
        as its sandbox clock); the first answer that is not a 200, or else the last.
        Raises `ServiceUnavailable` if any replica does not answer, or with `down_ok`
        (a replica that is down reads that state from the database when it starts) if
        none does."""
        headers = outgoing_headers(self.token(service, caller)) | {"content-type": "application/json"}
        body = orjson.dumps(json) if json is not None else None
        calls = [self._at(service, base + path, method, headers=headers, body=body) for base in self.replicas(service)]
        if not down_ok:
            answers = await asyncio.gather(*calls)
        else:
            results = await asyncio.gather(*calls, return_exceptions=True)
            answers = [r for r in results if isinstance(r, UpstreamResponse)]
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, ServiceUnavailable):
                    raise r
            if not answers:
                raise ServiceUnavailable(service)
            if len(answers) < len(results):
                log.warning(
                    "%s %s: %d of %d replicas of %s did not answer",
                    method,
                    path,
                    len(results) - len(answers),
                    len(results),
                    service,
                )
        return next((a for a in answers if a.status_code != 200), answers[-1])

    async def _at(
        self, service: str, url: str, method: str, *, headers: dict[str, str], body: bytes | None
    ) -> UpstreamResponse:
        if self._pool is None:
            raise RuntimeError("Upstreams.start() was not awaited")
        try:
            answer = await self._pool.request(method, url, headers=headers, body=body)
        except (CallFailed, TimeoutError):
            raise ServiceUnavailable(service) from None
        return UpstreamResponse(service, answer.status, answer.body, {})

    async def forward(
        self,
        service: str,
        request: Request,
        path: str,
        *,
        caller: Caller,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        """Pass a request through to a service and its answer back, problem+json included."""
        body = await request.body()
        headers = outgoing_headers(self.token(service, caller)) | (extra_headers or {})
        if body:
            headers["content-type"] = request.headers.get("content-type", "application/json")
        upstream = await self._request(
            service,
            request.method,
            path,
            headers=headers,
            body=body or None,
            # A POST seldom has a query: its parsing is skipped when there is none.
            params=list(request.query_params.multi_items()) if request.scope["query_string"] else None,
        )
        return Response(upstream.content, status_code=upstream.status_code, headers=upstream.headers)

    async def relay_stream(
        self, service: str, request: Request, path: str, *, caller: Caller, read_timeout_s: float, slot: Slot
    ) -> Response:
        """Relay a service's Server-Sent Events byte for byte: the gateway stays the phone's
        only address, and the stream ends when either side goes away. The stream holds
        `slot` until then; an answer that is no stream gives it back at once."""
        client = self.stream_client(service)
        headers = outgoing_headers(self.token(service, caller)) | {"accept": "text/event-stream"}
        upstream_request = client.build_request(
            "GET",
            self.url(service, path),
            params=request.query_params,
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=2.0, pool=STREAM_POOL_WAIT_S),
        )
        try:
            with self.tracing.outgoing("GET", str(upstream_request.url)) as traced:
                upstream_request.headers.update(traced)
                upstream = await client.send(upstream_request, stream=True)
        except BaseException as exc:
            slot.release()
            if isinstance(exc, httpx.TransportError):
                raise ServiceUnavailable(service) from None
            raise
        if upstream.status_code != 200:
            slot.release()
            try:
                body = await upstream.aread()
            finally:
                await upstream.aclose()
            return Response(body, status_code=upstream.status_code, media_type=upstream.headers.get("content-type"))

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            except httpx.HTTPError:
                return  # the service went away: end the stream, the phone reconnects
            finally:
                await upstream.aclose()

        return HeldStream(relay(), slot, background=BackgroundTask(upstream.aclose))
