"""The gateway's pooled HTTP clients to the services (queries and synchronous commands).

Request/response calls go through one aiohttp session: on the gateway's hot path it
costs a fraction of httpx's CPU per call. httpx stays for streaming relays (SSE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
from fastapi import Request
from fastapi.responses import Response

from shared.observability import outgoing_headers
from shared.problems import Problem, unavailable
from shared.settings import ServiceUrls

_PASS_HEADERS = ("content-type", "retry-after", "location")


@dataclass(frozen=True)
class UpstreamResponse:
    status_code: int
    content: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return orjson.loads(self.content)


class Upstreams:
    def __init__(self, urls: ServiceUrls) -> None:
        self.urls = urls
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=10, connect=2),
            json_serialize=lambda o: orjson.dumps(o).decode(),
            skip_auto_headers=("User-Agent",),
        )
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0))

    async def close(self) -> None:
        await self.session.close()
        await self.client.aclose()

    def _url(self, service: str, path: str) -> str:
        return getattr(self.urls, service).rstrip("/") + path

    async def _request(
        self, service: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None, params: Any
    ) -> UpstreamResponse:
        try:
            async with self.session.request(
                method, self._url(service, path), headers=headers, data=body, params=params
            ) as upstream:
                content = await upstream.read()
                return UpstreamResponse(
                    upstream.status,
                    content,
                    {k.lower(): v for k, v in upstream.headers.items() if k.lower() in _PASS_HEADERS},
                )
        except (aiohttp.ClientError, TimeoutError):
            raise unavailable(service) from None

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        json: Any = None,
        params: Any = None,
    ) -> UpstreamResponse:
        headers = outgoing_headers(token)
        if json is not None:
            headers["content-type"] = "application/json"
        body = orjson.dumps(json) if json is not None else None
        return await self._request(service, method, path, headers=headers, body=body, params=params)

    async def forward(
        self,
        service: str,
        request: Request,
        path: str,
        *,
        token: str,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        """Pass a request through to a service and its answer back, problem+json included."""
        body = await request.body()
        headers = outgoing_headers(token) | (extra_headers or {})
        if body:
            headers["content-type"] = request.headers.get("content-type", "application/json")
        upstream = await self._request(
            service,
            request.method,
            path,
            headers=headers,
            body=body or None,
            params=list(request.query_params.multi_items()),
        )
        return Response(upstream.content, status_code=upstream.status_code, headers=upstream.headers)


def raise_for_problem(response: UpstreamResponse) -> None:
    """Re-raise a service's problem+json answer as the gateway's own."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    slug = str(body.get("type", "")).rsplit("/", 1)[-1] or "upstream-error"
    extra = {k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "request_id", "instance")}
    status = response.status_code if response.status_code < 500 else 502
    raise Problem(status, slug, str(body.get("detail", "the service refused the request")), **extra)
