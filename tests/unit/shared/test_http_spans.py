"""A server span per request, continuing the caller's traceparent and named by the route
template; a call made while handling it sends a traceparent of the same trace."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shared.settings import TracingSettings
from shared.tracing import ServerSpans, Tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def app_of(tracing: Tracing) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        with tracing.outgoing("GET", "http://accounts/internal/x") as headers:
            return {"thing_id": thing_id, **headers}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(ServerSpans, tracing=tracing)
    return app


async def test_a_request_continues_its_callers_trace_under_its_route_template() -> None:
    tracing = Tracing("payments", TracingSettings(sdk_disabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_of(tracing)), base_url="http://t") as client:
        r = await client.get("/v1/things/t-42", headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"})

    assert r.status_code == 200
    server, call = sorted(tracing.trace(TRACE_ID), key=lambda s: s["kind"] != "server")
    assert (server["name"], server["kind"], server["parent_span_id"]) == (
        "GET /v1/things/{thing_id}",
        "server",
        CALLER_SPAN,
    )
    assert server["attributes"]["http.response.status_code"] == 200
    assert (call["kind"], call["parent_span_id"]) == ("client", server["span_id"])
    # What the call sent on: this trace, the client span as the parent.
    assert r.json()["traceparent"].split("-")[1:3] == [TRACE_ID, call["span_id"]]


async def test_probes_start_no_trace_and_a_disabled_tracing_sends_nothing() -> None:
    tracing = Tracing("payments", TracingSettings(sdk_disabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_of(tracing)), base_url="http://t") as client:
        await client.get("/healthz")
    assert tracing.latest(10) == []

    off = Tracing("payments", TracingSettings(sdk_disabled=True))
    with off.outgoing("GET", "http://accounts/") as headers:
        assert headers == {}
