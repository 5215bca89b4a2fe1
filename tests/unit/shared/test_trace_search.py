"""A process's ring of recent spans finds the traces that name an id (the console's
flows): in a span's name, its attributes or its events' attributes, whole traces."""

from __future__ import annotations

from shared import tracing
from shared.settings import TracingSettings
from shared.tracing import Tracing


def test_the_traces_naming_an_id_are_found_whole() -> None:
    traced = Tracing("payments", TracingSettings(sdk_disabled=False))
    request = traced.span("POST /v1/payments/transfers", attributes={"url.path": "/v1/payments/transfers"})
    with request, traced.span("saga"):
        tracing.event("saga step", {"saga.id": "pay-42", "saga.step": "reserve"})
    with traced.span("GET /v1/payments/{id}", attributes={"url.path": "/v1/payments/pay-42"}):
        pass
    with traced.span("payments.events process", attributes={"messaging.message.id": "other"}):
        pass

    found = traced.mentioning("pay-42", limit=10)

    assert [[s["name"] for s in spans] for spans in found] == [
        ["GET /v1/payments/{id}"],
        ["POST /v1/payments/transfers", "saga"],
    ]
    assert traced.mentioning("pay-42", limit=1) == found[:1]
    assert traced.mentioning("pay-43", limit=10) == []
