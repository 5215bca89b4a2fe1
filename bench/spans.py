"""Tracing's CPU per transfer, in process: the spans one P2P transfer makes, made N times.

    python -m bench.spans [N]                 # µs of CPU per transfer for its spans, on and off
    python -m bench.spans 2000 --profile      # the same under cProfile: where that CPU goes
    python -m bench.spans 300 --count         # N transfers' spans once, tracing on, nothing else:
                                              # under callgrind with N and with 0, the difference
                                              # is their exact count of instructions

A transfer makes, across the stack (tests/e2e/test_observability.py shows them): three
HTTP server spans and, for each call between processes, a client span (the gateway to
payments, payments to accounts); a publish span and a handling span for each of its six
messages; and the saga's step and outcome events. This drives that pattern through the
code the stack runs (`ServerSpans`, with its latency histogram, around an ASGI app that
answers at once, `Tracing.outgoing`, `start_publish`, `span`, `event`), with tracing on
and with it off, and prints the CPU of each and the difference: what tracing costs a
transfer on the hot path, unaffected by what else the machine does.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
from types import SimpleNamespace
from typing import Any

from shared.settings import TracingSettings
from shared.tracing import ServerSpans, Tracing, event, span_context, trace_context

SERVER_HOPS = 3
CLIENT_HOPS = 2
MESSAGES = 6
ROUTE = SimpleNamespace(path_format="/v1/payments/transfers")


class NoMetrics:
    """A Metrics' methods the middleware calls, into a real histogram's worth of work."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Histogram

        self.http = Histogram(
            "bench_http_seconds", "", ["service", "route", "method", "status"], registry=CollectorRegistry()
        )

    def request_started(self) -> None:
        return None

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http.labels("bench", route, method, f"{status // 100}xx").observe(seconds)


async def answer(scope: Any, receive: Any, send: Any) -> None:
    scope["route"] = ROUTE
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def sent(message: Any) -> None:
    return None


async def received() -> Any:
    return {"type": "http.request", "body": b""}


def app_of(tracing: Tracing) -> Any:
    return ServerSpans(answer, tracing, NoMetrics())


async def one_transfer(tracing: Tracing, app: Any) -> None:
    context = None
    for hop in range(SERVER_HOPS):
        headers = [(b"content-type", b"application/json")]
        if context:
            headers.append((b"traceparent", context.encode()))
        scope = {"type": "http", "method": "POST", "path": "/v1/payments/transfers", "headers": headers}
        await app(scope, received, sent)
        if hop < CLIENT_HOPS:
            with tracing.outgoing("POST", "http://127.0.0.1:1/v1/payments/transfers"):
                context = trace_context()
    with tracing.span("payments.commands process", consumer=True):
        context = trace_context()
    for _ in range(MESSAGES):
        span = tracing.start_publish("accounts.commands", context)
        if span is not None:
            context = span_context(span, context)
            span.end()
        with tracing.span(
            "accounts.commands process",
            parent=context,
            consumer=True,
            attributes={
                "messaging.consumer.group.name": "accounts",
                "messaging.kafka.offset": 1,
                "messaging.message.id": "4c3a8e8e-0000-4000-8000-000000000001",
                "sandbank.message.type": "accounts.ReserveFunds",
            },
        ):
            event("saga step", {"saga.id": "p-1", "saga.step": "capture", "saga.kind": "transfer"})
            context = trace_context()


def cpu_per_transfer(tracing: Tracing, n: int) -> float:
    """µs of CPU per transfer for its spans."""
    app = app_of(tracing)

    async def run() -> float:
        for _ in range(50):  # warm
            await one_transfer(tracing, app)
        started = time.process_time()
        for _ in range(n):
            await one_transfer(tracing, app)
        return (time.process_time() - started) / n * 1e6

    return asyncio.run(run())


def transfers(tracing: Tracing, n: int) -> None:
    """`n` transfers' spans after 20 to warm, and nothing else."""
    app = app_of(tracing)

    async def run() -> None:
        for _ in range(20 + n):
            await one_transfer(tracing, app)

    asyncio.run(run())


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv and argv[0].isdigit() else 2000
    on = Tracing("bench", TracingSettings(sdk_disabled=False))
    off = Tracing("bench", TracingSettings(sdk_disabled=True))
    if "--count" in argv:
        transfers(on, n)
        return 0
    if "--profile" in argv:
        profile = cProfile.Profile()
        profile.enable()
        cpu_per_transfer(on, n)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        return 0
    runs = [(cpu_per_transfer(off, n), cpu_per_transfer(on, n)) for _ in range(3)]
    off_us = sorted(r[0] for r in runs)[1]
    on_us = sorted(r[1] for r in runs)[1]
    spans = SERVER_HOPS + CLIENT_HOPS + 1 + 2 * MESSAGES
    print(f"{spans} spans a transfer, median of 3 runs of {n}:")
    print(f"  tracing off {off_us:7.1f} µs CPU per transfer")
    print(f"  tracing on  {on_us:7.1f} µs CPU per transfer")
    print(f"  tracing     {on_us - off_us:7.1f} µs a transfer, {(on_us - off_us) / spans:5.1f} µs a span")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
