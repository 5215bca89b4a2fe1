"""`sandbank listen`: a running Sandbank's webhooks, relayed to a local endpoint while
you develop it (as `stripe listen --forward-to` does).

It logs in (the demo operator unless given a customer's phone and password: an
operator's endpoint hears every customer's events, a customer's only their own), starts
an HTTP listener on a free loopback port, registers it as a temporary webhook endpoint,
and prints the endpoint's signing secret. Every delivery it then receives is POSTed to
`--forward-to` as it came (body and Sandbank-* headers untouched, so the signature still
verifies with that secret), with one line per event; the forward's answer is the
gateway's answer, so a failing local endpoint sees the gateway's retries. On exit
(Ctrl-C, SIGTERM) the endpoint is removed and the session logged out."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import datetime
from typing import Any, TextIO

import httpx
import orjson
from aiohttp import web

# Not relayed: they describe the hop, not the delivery (RFC 9110 section 7.6.1).
HOP_HEADERS = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade"})


class Session:
    """A login to the gateway that refreshes itself when its access token runs out."""

    def __init__(self, client: httpx.AsyncClient, phone: str, password: str) -> None:
        self.client = client
        self.phone = phone
        self.password = password
        self.tokens: dict[str, Any] = {}

    async def login(self) -> None:
        try:
            r = await self.client.post(
                "/v1/auth/login", json={"phone": self.phone, "password": self.password, "device_id": "sandbank-listen"}
            )
        except httpx.HTTPError as error:
            raise SystemExit(f"sandbank listen: no gateway at {self.client.base_url}: {error}") from None
        if r.status_code != 200:
            raise SystemExit(f"sandbank listen: could not log in as {self.phone}: {r.status_code} {r.text}")
        self.tokens = r.json()

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for _ in range(2):
            headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}
            r = await self.client.request(method, path, headers=headers, **kw)
            if r.status_code != 401:
                return r
            refreshed = await self.client.post("/v1/auth/refresh", json={"refresh_token": self.tokens["refresh_token"]})
            if refreshed.status_code == 200:
                self.tokens = refreshed.json()
            else:
                await self.login()
        return r

    async def logout(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await self.call("POST", "/v1/auth/logout")


class Relay:
    """The local listener: each delivery forwarded to `target`, one line printed."""

    def __init__(self, target: str, out: TextIO, timeout_s: float) -> None:
        self.target = target
        self.out = out
        self.client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    def _print(self, line: str) -> None:
        print(f"{datetime.now():%Y-%m-%d %H:%M:%S}  {line}", file=self.out, flush=True)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            event = orjson.loads(body)
            what = f"{event.get('type')} [{event.get('id')}]"
        except orjson.JSONDecodeError:
            what = f"{len(body)} bytes that are not JSON"
        try:
            answer = await self.client.post(self.target, content=body, headers=headers)
        except httpx.HTTPError as error:
            self._print(f"--> {what}  <-- could not reach {self.target}: {type(error).__name__} {error}")
            return web.Response(status=502, text=f"sandbank listen could not reach {self.target}")
        self._print(f"--> {what}  <-- [{answer.status_code}] POST {self.target}")
        kept = {k: v for k, v in answer.headers.items() if k.lower() == "content-type"}
        return web.Response(status=answer.status_code, body=answer.content[:4096], headers=kept)

    async def close(self) -> None:
        await self.client.aclose()


async def listen(
    *,
    gateway: str,
    forward_to: str,
    events: list[str],
    phone: str,
    password: str,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout_s: float = 10.0,
    out: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
) -> int:
    """Relay until `stop` is set (or the process is told to stop); 0 when done cleanly."""
    stop = stop or asyncio.Event()
    relay = Relay(forward_to, out, timeout_s)
    app = web.Application()
    app.router.add_post("/{tail:.*}", relay.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        session = Session(client, phone, password)
        endpoint_id: str | None = None
        try:
            await session.login()
            r = await session.call(
                "POST",
                "/v1/webhooks/endpoints",
                json={"url": f"http://{host}:{bound}/", "events": events, "description": "sandbank listen"},
            )
            if r.status_code != 201:
                print(f"sandbank listen: the gateway refused the endpoint: {r.status_code} {r.text}", file=sys.stderr)
                return 1
            endpoint = r.json()
            endpoint_id = endpoint["id"]
            print(
                f"Ready. Your webhook signing secret is {endpoint['secret']} (endpoint {endpoint_id}, "
                f"{'every customer' if endpoint['scope'] == 'all' else 'your own events'}: {', '.join(events)})",
                file=out,
                flush=True,
            )
            print(f"Forwarding to {forward_to}; Ctrl-C stops and removes the endpoint.", file=out, flush=True)
            await _until_stopped(stop)
            return 0
        finally:
            if endpoint_id is not None:
                with contextlib.suppress(httpx.HTTPError):
                    gone = await session.call("DELETE", f"/v1/webhooks/endpoints/{endpoint_id}")
                    print(f"Removed endpoint {endpoint_id} ({gone.status_code}).", file=out, flush=True)
            if session.tokens:
                await session.logout()
            await runner.cleanup()
            await relay.close()


async def _until_stopped(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or Windows
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    return int(
        asyncio.run(
            listen(
                gateway=args.gateway,
                forward_to=args.forward_to,
                events=events,
                phone=args.phone,
                password=args.password,
                port=args.port,
            )
        )
    )
