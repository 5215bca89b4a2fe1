"""The gateway's pooled HTTP client to the services (queries and synchronous commands)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import Request
from fastapi.responses import Response

from shared.observability import correlation_id_var, request_id_var
from shared.problems import Problem
from shared.settings import ServiceUrls

_PASS_HEADERS = ("content-type", "retry-after", "location")


class Upstreams:
    def __init__(self, urls: ServiceUrls) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            timeout=httpx.Timeout(10.0, connect=2.0),
        )

    async def close(self) -> None:
        await self.client.aclose()

    def _url(self, service: str, path: str) -> str:
        return getattr(self.urls, service).rstrip("/") + path

    @staticmethod
    def _headers(token: str | None) -> dict[str, str]:
        headers = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if rid := request_id_var.get():
            headers["x-request-id"] = rid
        if cid := correlation_id_var.get():
            headers["x-correlation-id"] = cid
        return headers

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        json: Any = None,
        params: Any = None,
    ) -> httpx.Response:
        headers = self._headers(token)
        if json is not None:
            headers["content-type"] = "application/json"
        try:
            return await self.client.request(
                method,
                self._url(service, path),
                headers=headers,
                content=orjson.dumps(json) if json is not None else None,
                params=params,
            )
        except httpx.TransportError:
            raise Problem(
                503,
                "service-unavailable",
                f"the {service} service is not answering; try again shortly",
                headers={"Retry-After": "2"},
            ) from None

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
        headers = self._headers(token) | (extra_headers or {})
        if body:
            headers["content-type"] = request.headers.get("content-type", "application/json")
        try:
            upstream = await self.client.request(
                request.method,
                self._url(service, path),
                headers=headers,
                content=body or None,
                params=request.query_params,
            )
        except httpx.TransportError:
            raise Problem(
                503,
                "service-unavailable",
                f"the {service} service is not answering; try again shortly",
                headers={"Retry-After": "2"},
            ) from None
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k.lower() in _PASS_HEADERS},
        )


def raise_for_problem(response: httpx.Response) -> None:
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
