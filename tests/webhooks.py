"""A webhook receiver for tests: a real HTTP server on a free loopback port that keeps
every request it gets (body and headers as received) and answers with the status codes a
test lines up (then 200)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from shared.webhooks import ID_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    path: str

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed

    @property
    def signature(self) -> str:
        return self.headers[SIGNATURE_HEADER]

    @property
    def webhook_id(self) -> str:
        return self.headers[ID_HEADER]

    def verified(self, secret: str) -> dict[str, Any]:
        """The event, once its signature checks out with `secret` (the documented recipe)."""
        verify(self.body, self.signature, secret)
        return self.event


@dataclass
class Receiver:
    answers: list[int] = field(default_factory=list)  # status codes to answer, in order; then 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(await request.read(), dict(request.headers), request.path)
        async with self._arrived:
            self.received.append(got)
            self._arrived.notify_all()
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="ok" if status < 300 else f"receiver says {status}")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def next(self, match: Callable[[Received], bool] = lambda _r: True, timeout_s: float = 15) -> Received:
        """The first request received (so far or within `timeout_s`) that `match`es."""
        async with asyncio.timeout(timeout_s), self._arrived:
            while True:
                for got in self.received:
                    if match(got):
                        return got
                await self._arrived.wait()

    def of_type(self, event_type: str, **data: Any) -> Callable[[Received], bool]:
        def match(got: Received) -> bool:
            event = got.event
            return bool(event["type"] == event_type and all(event["data"].get(k) == v for k, v in data.items()))

        return match
