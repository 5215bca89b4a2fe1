"""A flow's sequence diagram from its spans: which lifeline sends what to which, in the
order the spans started. Pure: the spans come from every process's /internal/traces."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.console.schemas import FlowHop
from shared.internal import TraceSpan

PHONE = "phone"
# The processes' lifelines, left to right: topics go beside the process that owns them.
PROCESS_ORDER = ("gateway", "payments", "accounts", "securities", "insurance")


def _topic_of(span: TraceSpan) -> str:
    """The topic a Kafka span is about: its destination attribute or its name's first word."""
    named = span.attributes.get("messaging.destination.name")
    return str(named) if named else span.name.split(" ", 1)[0]


def _notes(span: TraceSpan) -> list[str]:
    notes = []
    for event in span.events:
        a = event.attributes
        if event.name == "saga ended":
            reason = f" ({a['saga.reason']})" if a.get("saga.reason") else ""
            notes.append(f"saga {a.get('saga.kind', '')} {a.get('saga.outcome', '')}{reason}".replace("  ", " "))
        elif event.name.startswith("saga "):
            attempt = a.get("saga.attempt")
            tries = f" #{attempt}" if attempt else ""
            notes.append(f"{event.name} {a.get('saga.step', '')}{tries}")
        else:
            notes.append(event.name)
    return notes


def hops(spans: Sequence[TraceSpan]) -> list[FlowHop]:
    """Each span as an arrow: a server span from its caller (the client span it continues,
    or the phone for the gateway's own), a publish to its topic, a consume from it, and
    a process's own work on its lifeline. Client spans are drawn by the server span they
    led to; one whose server span is missing is drawn towards its URL's host."""
    by_id = {s.span_id: s for s in spans}
    answered = {s.parent_span_id for s in spans if s.kind == "server" and s.parent_span_id}
    first = min((s.start_unix_nano for s in spans), default=0)
    drawn = []
    for span in sorted(spans, key=lambda s: s.start_unix_nano):
        kind, label = "internal", span.name
        source = target = span.service
        if span.kind == "server":
            caller = by_id.get(span.parent_span_id or "")
            kind = "http"
            source = caller.service if caller is not None else (PHONE if span.service == "gateway" else "?")
        elif span.kind == "client":
            if span.span_id in answered:
                continue
            kind = "http"
            target = str(span.attributes.get("url.full", "?")).split("//", 1)[-1].split("/", 1)[0]
            label = f"{span.name} {span.attributes.get('url.full', '')}".strip()
        elif span.kind == "producer":
            kind, target = "publish", _topic_of(span)
        elif span.kind == "consumer":
            kind, source = ("dead-letter" if span.name.endswith("dead-letter") else "consume"), _topic_of(span)
            message_type = span.attributes.get("sandbank.message.type")
            if message_type:
                label = f"{message_type}"
            attempt = span.attributes.get("sandbank.attempt")
            if attempt:
                label += f" (retry {attempt})"
        drawn.append(
            FlowHop(
                source=source,
                target=target,
                kind=kind,
                label=label,
                span_id=span.span_id,
                trace_id=span.trace_id,
                start_ms=round((span.start_unix_nano - first) / 1e6, 3),
                duration_ms=span.duration_ms,
                status=span.status,
                notes=_notes(span),
            )
        )
    return drawn


def lifelines(drawn: Sequence[FlowHop]) -> list[str]:
    """The phone first, then each process followed by the topics it owns, in
    `PROCESS_ORDER`; anything else at the end."""
    seen = {h.source for h in drawn} | {h.target for h in drawn}
    order = [PHONE] if PHONE in seen else []
    for process in PROCESS_ORDER:
        if process in seen:
            order.append(process)
        order += sorted(t for t in seen if "." in t and t.split(".", 1)[0] == process)
    return order + sorted(seen - set(order))


def outcome(spans: Sequence[TraceSpan]) -> str | None:
    """The last saga outcome the spans record."""
    found = None
    for span in sorted(spans, key=lambda s: s.start_unix_nano):
        for event in span.events:
            if event.name == "saga ended" and event.attributes.get("saga.outcome"):
                found = str(event.attributes["saga.outcome"])
    return found
