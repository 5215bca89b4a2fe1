"""What the gateway's unit tests bring instead of the services: upstreams that answer
from memory, and a client logged in with the roles a test names."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from gateway import deps
from gateway.routing.upstream import UpstreamResponse, Upstreams
from shared.auth import Principal
from shared.settings import ServiceUrls
from tests.tokens import issuer


class FakeUpstreams(Upstreams):
    """Answers every call with `answer` (or raises it), and keeps what was asked."""

    def __init__(self) -> None:
        super().__init__(ServiceUrls(), issuer("gateway"))
        self.asked: list[dict[str, Any]] = []
        self.answer: UpstreamResponse | Exception = UpstreamResponse("any", 200, b'{"items": []}', {})

    async def _request(
        self, service: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None, params: Any
    ) -> UpstreamResponse:
        self.asked.append({"service": service, "method": method, "path": path, "headers": headers, "params": params})
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def logged_in(app: FastAPI, *roles: str, subject: str = "c-1") -> httpx.AsyncClient:
    principal = Principal(subject, frozenset(roles), session_id="s-1", token=f"token-of-{subject}")
    app.dependency_overrides[deps.authenticated] = lambda: principal
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
