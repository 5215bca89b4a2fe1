"""`sandbank listen`'s relay: a delivery forwarded as it came, the local endpoint's answer
passed back (so the gateway retries what failed), one line per event."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiohttp import web

from shared.webhooks import sign, verify
from tests.webhooks import Receiver
from tools.listen import Relay

BODY = b'{"id":"evt_1","type":"payment_sent","created":1764079262,"data":{}}'


@asynccontextmanager
async def relaying(target: str) -> AsyncIterator[tuple[str, io.StringIO]]:
    out = io.StringIO()
    relay = Relay(target, out, timeout_s=2)
    app = web.Application()
    app.router.add_post("/{tail:.*}", relay.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/", out
    finally:
        await runner.cleanup()
        await relay.close()


async def deliver(url: str, secret: str = "whsec_test") -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "Sandbank-Signature": sign(BODY, [secret], 1_764_079_262),
        "Sandbank-Webhook-Id": "evt_1",
    }
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=BODY, headers=headers)


async def test_a_delivery_is_forwarded_as_it_came_and_still_verifies() -> None:
    async with Receiver() as local, relaying(local.url) as (url, out):
        answer = await deliver(url)

    assert answer.status_code == 200
    got = local.received[0]
    assert got.body == BODY and got.webhook_id == "evt_1" and got.path == "/hooks"
    assert verify(got.body, got.signature, "whsec_test", now=1_764_079_262) == 1_764_079_262
    assert "--> payment_sent [evt_1]  <-- [200] POST" in out.getvalue()


async def test_the_local_endpoints_failure_is_passed_back_for_the_gateway_to_retry() -> None:
    async with Receiver(answers=[500]) as local, relaying(local.url) as (url, out):
        answer = await deliver(url)

    assert answer.status_code == 500 and answer.text == "receiver says 500"
    assert "<-- [500]" in out.getvalue()


async def test_a_local_endpoint_that_is_not_there_is_a_502() -> None:
    async with Receiver() as gone:
        target = gone.url
    async with relaying(target) as (url, out):
        answer = await deliver(url)

    assert answer.status_code == 502
    assert "could not reach" in out.getvalue()
