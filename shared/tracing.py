"""OpenTelemetry traces across HTTP and Kafka (DESIGN.md section 9).

One trace per customer request: the gateway's and each service's HTTP server spans
(`ServerSpans`), the calls between processes (`Tracing.outgoing`, which sends the W3C
`traceparent`), and every Kafka hop. A message keeps
the context it was written in on its outbox row (`trace_context`), so the relay's publish
span and, through the `traceparent` header, the consumer's span per message join the
request's trace, even when the relay sends the row after a restart.

The standard variables configure it: `OTEL_SDK_DISABLED=true` turns it off (nothing of
OpenTelemetry is imported then), `OTEL_TRACES_SAMPLER` samples, and
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) sends spans over OTLP/HTTP.
Whatever the exporter, each process keeps its last finished spans in memory
(`RecentSpans`), served on GET /internal/traces, so a console can assemble a trace from
every process without a collector.

OpenTelemetry is imported only when a process turns tracing on: the processes' start-up
time counts.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from random import getrandbits
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.trace import Span, Tracer

    from shared.settings import TracingSettings

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_HEADERS = frozenset({TRACEPARENT, TRACESTATE})
# How many finished spans a process keeps for GET /internal/traces.
KEPT_SPANS = 5000
# Paths whose requests start no trace: probes and scrapes would crowd out the payments.
_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})
# Prefixes of the same: reads of the traces themselves and the operator console's, which
# looks at the flows and would otherwise find its own looking among them.
_UNTRACED_PREFIXES = ("/internal/traces", "/internal/sagas/summary", "/v1/admin/console")
# Paths outside the latency histogram (shared.metrics.UNMEASURED).
_UNMEASURED = frozenset({"/healthz", "/readyz", "/metrics"})
# The samplers under which a span is sampled exactly when its parent is (or it is a root):
# the SDK's default. Under them `Tracing.open_span` builds the span itself.
_PARENT_BASED_ON = frozenset({"", "parentbased_always_on"})


def _untraced(path: str) -> bool:
    return path in _UNTRACED or path.startswith(_UNTRACED_PREFIXES)


# The OpenTelemetry API and its context module, once a process has turned tracing on
# (None until then).
_api: Any = None
_context: Any = None
# OpenTelemetry's current context as `_Current` and `ServerSpans` set and read it: the
# contextvars runtime's own variable (or `_RuntimeVar` over another runtime), the key the
# current span is kept under in it, and the context class.
_current: Any = None
_SPAN_KEY = ""
_Context: Any = None
# The value types the SDK keeps as they are in an attribute (a string at most cut to a
# length limit): a span's attributes of these types alone need no cleaning one by one.
_PLAIN = frozenset({str, int, float, bool})


# The span `trace_context` last wrote the context of, and what it wrote.
_written: tuple[Any, str | None] = (None, None)


class _RuntimeVar:
    """A configured runtime context other than OpenTelemetry's default (contextvars) one,
    behind the ContextVar methods the spans use."""

    def get(self) -> Any:
        return _context.get_current()

    def set(self, value: Any) -> Any:
        return _context.attach(value)

    def reset(self, token: Any) -> None:
        _context.detach(token)


def _current_span() -> Any:
    """OpenTelemetry's current span (`get_current_span`), read from its context variable
    directly: every span opened without a parent, every message written and every log
    line asks, and the API's way there takes four calls."""
    span = _current.get().get(_SPAN_KEY)
    return _api.INVALID_SPAN if span is None else span


def _enter(span: Any) -> Any:
    """Make `span` the current span (the API's `attach(set_span_in_context(span))`, which
    copies the context twice); the token to `_leave` it with."""
    current = _current.get()
    return _current.set(_Context({**current, _SPAN_KEY: span}) if current else _Context({_SPAN_KEY: span}))


def _leave(token: Any) -> None:
    """The context before `_enter`; as the API's `detach`, a failure is logged, not raised."""
    try:
        _current.reset(token)
    except Exception:
        log.exception("Failed to detach context")


def trace_context() -> str | None:
    """The current span's context as one `traceparent[;tracestate]` string, for an outbox
    row written now; None outside a span or with tracing off. A handler publishes its
    messages one after another in its span: the last span's is kept, as a span's context
    never changes."""
    global _written
    if _api is None:
        return None
    span = _current_span()
    last, written = _written
    if span is last:
        return written
    context = span.get_span_context()
    if context[5]:
        state = _state_header(context[4])
        written = f"{_traceparent(context)};{state}" if state else _traceparent(context)
    else:
        written = None
    _written = (span, written)
    return written


def _traceparent(context: Any) -> str:
    """A span context's `traceparent` (the tuple's trace id, span id and flags)."""
    return f"00-{context[0]:032x}-{context[1]:016x}-{context[3]:02x}"


def _state_header(state: Any) -> str:
    """A trace state's `tracestate` header, "" for none (most spans share the API's
    default, whose emptiness costs a call to ask)."""
    return "" if state is _api.DEFAULT_TRACE_STATE or not state else str(state.to_header())


def trace_id() -> str | None:
    """The current trace's id (32 hex digits), for a log line; None outside a trace."""
    if _api is None:
        return None
    context = _current_span().get_span_context()
    return f"{context[0]:032x}" if context[5] else None


def span_context(span: Span, context: str | None) -> str:
    """`span`'s own context as `trace_context` gives it, with `context`'s tracestate."""
    state = context.partition(";")[2] if context else ""
    parent = _traceparent(span.get_span_context())
    return f"{parent};{state}" if state else parent


def span_headers(span: Span, context: str) -> list[tuple[str, bytes]]:
    """The Kafka headers that carry `span`'s own context with `context`'s tracestate:
    `trace_headers(span_context(span, context))`, without writing the string and parsing
    it again (the relay adds them to every message it publishes)."""
    headers = [(TRACEPARENT, _traceparent(span.get_span_context()).encode())]
    state = context.partition(";")[2]
    if state:
        headers.append((TRACESTATE, state.encode()))
    return headers


def context_of_headers(headers: Sequence[Sequence[Any]]) -> str | None:
    """The `traceparent[;tracestate]` among a message's headers ([name, text] or
    (name, bytes) pairs; one without a value is none), as `trace_context` gives it; None
    if it carries none. The last of each counts."""
    parent = state = None
    for name, value in headers:
        if value and name in TRACE_HEADERS:
            if name == TRACEPARENT:
                parent = value
            else:
                state = value
    if parent is None:
        return None
    parent = parent.decode(errors="replace") if isinstance(parent, bytes) else str(parent)
    if state is None:
        return parent
    return f"{parent};{state.decode(errors='replace') if isinstance(state, bytes) else state}"


def trace_headers(context: str | None) -> list[tuple[str, bytes]]:
    """The Kafka headers that carry a `trace_context` string."""
    if not context:
        return []
    parent, _, state = context.partition(";")
    headers = [(TRACEPARENT, parent.encode())]
    if state:
        headers.append((TRACESTATE, state.encode()))
    return headers


def _remote(context: str | None) -> Any:
    """The remote parent's span context that `context` names (None: none named, the
    current span is the parent; an invalid one for a malformed one: a new trace).
    Parsed here rather than by the W3C propagator, whose regular expressions cost more
    than the span itself on every message: `00-`, 32 hex digits of trace id, 16 of span
    id and 2 of flags, cut at their places (what follows a further `-` is ignored)."""
    if not context:
        return None
    parent, _, state = context.partition(";")
    if len(parent) < 55 or parent[:3] != "00-" or parent[35] != "-" or parent[52] != "-" or parent[55:56] not in _END:
        return _api.INVALID_SPAN_CONTEXT
    flags = _flags.get(parent[53:55])
    try:
        trace_id, span_id = int(parent[3:35], 16), int(parent[36:52], 16)
        if flags is None:
            flags = _parsed_flags(parent[53:55])
    except ValueError:
        return _api.INVALID_SPAN_CONTEXT
    # A digit of the slices may be a sign: a `-` in an id is no id.
    if trace_id <= 0 or span_id <= 0:
        return _api.INVALID_SPAN_CONTEXT
    trace_state = _api.TraceState.from_header([state]) if state else _api.DEFAULT_TRACE_STATE
    return _tuple(_api.SpanContext, (trace_id, span_id, True, flags, trace_state, True))


# What may follow a traceparent's flags, and the flags by the two digits that carry them.
_END = frozenset({"", "-"})
_flags: dict[str, Any] = {}
# A SpanContext is a tuple (trace id, span id, remote, flags, state, valid) that checks its
# ids as it is made: one whose ids are known good is made as the tuple it is.
_tuple = tuple.__new__


def _parsed_flags(digits: str) -> Any:
    """The trace flags `digits` (two hex digits) give, kept for the next traceparent."""
    if "-" in digits:  # a sign, which `int` takes
        raise ValueError(digits)
    flags = _flags[digits] = _api.TraceFlags(int(digits, 16) & 0xFF)
    return flags


def event(name: str, attributes: Mapping[str, Any]) -> None:
    """An event on the current span (a saga's step, retry or outcome); nothing when
    nothing is recorded."""
    if _api is None:
        return
    span = _current_span()
    if span.is_recording():
        span.add_event(name, {k: v for k, v in attributes.items() if v is not None})


def _kept_as_is(attributes: Mapping[str, Any], limit: int | None, length: int | None) -> bool:
    """Whether the SDK's cleaning would keep `attributes` as they are: few enough, each
    keyed by a string and of a plain type, none longer than the length limit."""
    if limit is not None and len(attributes) > limit:
        return False
    for key, value in attributes.items():
        if type(value) not in _PLAIN or type(key) is not str or not key:
            return False
        if length is not None and type(value) is str and len(value) > length:
            return False
    return True


# A lean span's events and links until the first one is added.
_NONE_YET: tuple[Any, ...] = ()


def _lean_spans(tracer: Any, ends: tuple[Any, ...]) -> Any:
    """A function that makes a started span of the SDK's Span class, built for less, for
    the spans of one tracer (`Tracing.open_span`, under the default sampler):
    `started(name, context, parent, kind, attributes)`.

    The SDK's constructor cleans each attribute value in turn, under a lock, makes an
    empty list for events and another for links, and copies a dozen fields every span
    of a tracer shares onto each; its `end` asks every processor about the ending span
    and copies it into a `ReadableSpan` for them. A transfer makes some twenty spans in
    each process it crosses, and that was most of what tracing cost it. This subclass
    keeps the SDK's fields, limits and methods (what the console, the exporter and
    `set_status` or `record_exception` read and do are the SDK's own), and differs in
    these only: the shared fields are the class's; attributes of plain types are taken
    in one pass (the SDK would keep them as they are); the events and links lists are
    made at the first one added; the span starts as it is built; and once ended it is
    handed to `ends` (the processors' `on_end`: neither of ours does anything as a span
    starts or is ending) itself, as nothing can change it any more (the SDK's copy
    shares its attributes and events anyway). A span, its attributes and its events are
    made by setting their fields on a new object, not through their constructors, whose
    checks and calls cost as much again as the fields.
    """
    from threading import Lock

    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.trace import _Span as SdkSpan  # the SDK's own tracer builds this class
    from opentelemetry.sdk.util import BoundedList
    from opentelemetry.trace import Status, StatusCode

    limits = tracer._span_limits
    span_limit, span_length = limits.max_span_attributes, limits.max_span_attribute_length
    event_limit, event_length = limits.max_event_attributes, limits.max_attribute_length
    new = object.__new__

    def bounded(attributes: Mapping[str, Any] | None, limit: int | None, length: int | None, immutable: bool) -> Any:
        """`BoundedAttributes(limit, attributes, immutable, length)`."""
        if not attributes or not _kept_as_is(attributes, limit, length):
            return BoundedAttributes(limit, attributes, immutable=immutable, max_value_len=length)
        kept = new(BoundedAttributes)
        kept._dict = dict(attributes)
        kept.maxlen = limit
        kept.dropped = 0
        kept.max_value_len = length
        kept._lock = Lock()
        kept._immutable = immutable
        return kept

    class LeanSpan(SdkSpan):
        _resource = tracer.resource
        _sampler = tracer.sampler
        _span_processor = tracer.span_processor
        _instrumentation_info = tracer.instrumentation_info
        _instrumentation_scope = tracer._instrumentation_scope
        _limits = limits
        _trace_config = None
        _record_exception = True
        _set_status_on_exception = True
        _record_end_metrics = None
        _status = Status(StatusCode.UNSET)
        _events: Any = _NONE_YET
        _links: Any = _NONE_YET
        _end_time = None

        def set_attributes(self, attributes: Mapping[str, Any]) -> None:
            kept: Any = self._attributes
            plain = _kept_as_is(attributes, kept.maxlen, kept.max_value_len)
            if not plain or not kept._dict.keys().isdisjoint(attributes):  # none cleaned, none moved
                super().set_attributes(attributes)
                return
            with self._lock:
                if self._end_time is not None:
                    log.warning("Setting attribute on ended span.")
                elif kept.maxlen is None or len(kept) + len(attributes) <= kept.maxlen:
                    kept._dict.update(attributes)
                else:
                    kept._set_items(attributes)

        def add_event(
            self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None
        ) -> None:
            event = new(Event)  # Event(name, attributes, timestamp)
            event._name = name
            event._attributes = bounded(attributes, event_limit, event_length, True)
            event._timestamp = time.time_ns() if timestamp is None else timestamp
            self._add_event(event)

        def _add_event(self, event: Any) -> None:
            self._append("_events", limits.max_events, event, "_add_event")

        def _add_link(self, link: Any) -> None:
            self._append("_links", limits.max_links, link, "_add_link")

        def _append(self, field: str, limit: int | None, item: Any, caller: str) -> None:
            """Add to the events or links list, made at the first one, while the span is open."""
            with self._lock:
                if self._end_time is None:
                    items = getattr(self, field)
                    if items is _NONE_YET:
                        items = BoundedList(limit)
                        setattr(self, field, items)
                    items.append(item)
                    return
            log.warning("Tried calling %s on an ended span.", caller)

        def update_name(self, name: str) -> None:
            """The SDK's, without the wrapper that checks the span is open around it."""
            with self._lock:
                if self._end_time is None:
                    self._name = name
                    return
            log.warning("Tried calling %s on an ended span.", "update_name")

        def end(self, end_time: int | None = None) -> None:
            with self._lock:
                if self._end_time is not None:
                    log.warning("Calling end() on an ended span.")
                    return
                self._end_time = end_time if end_time is not None else time.time_ns()
                kept: Any = self._attributes
                kept._immutable = True
            for on_end in ends:
                on_end(self)

    def started(name: str, context: Any, parent: Any, kind: Any, attributes: Mapping[str, Any] | None) -> Any:
        span = new(LeanSpan)
        span._name = name
        span._context = context
        span._parent = parent
        span._kind = kind
        span._lock = Lock()
        span._attributes = bounded(attributes, span_limit, span_length, False)
        span._start_time = time.time_ns()
        return span

    return started


class _Current:
    """A span opened as the block starts, current inside it and ended after it; an error
    raised in it is recorded on it and sets its status, as the SDK's `use_span` does. A
    class rather than a generator: one is entered for every message a consumer handles."""

    __slots__ = ("attributes", "kind", "name", "parent", "span", "token", "tracing")

    def __init__(
        self, tracing: Tracing, name: str, parent: str | None, kind: Any, attributes: Mapping[str, Any] | None
    ) -> None:
        self.tracing = tracing
        self.name = name
        self.parent = parent
        self.kind = kind
        self.attributes = attributes

    def __enter__(self) -> Any:
        span = self.span = self.tracing.open_span(self.name, _remote(self.parent), self.kind, self.attributes)
        self.token = _enter(span)
        return span

    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> None:
        span = self.span
        try:
            if isinstance(exc, Exception) and span.is_recording():
                span.record_exception(exc)
                span.set_status(_api.Status(_api.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            _leave(self.token)
            span.end()


class _Outgoing(_Current):
    """A client span current inside the block, which gets the headers that carry its
    `traceparent`."""

    __slots__ = ()

    def __enter__(self) -> dict[str, str]:
        context = super().__enter__().get_span_context()
        parent, state = _traceparent(context), _state_header(context[4])
        return {TRACEPARENT: parent, TRACESTATE: state} if state else {TRACEPARENT: parent}


class RecentSpans:
    """A span processor that keeps the last `size` finished spans of the process, in a
    ring: appending is all it does on the hot path."""

    def __init__(self, size: int = KEPT_SPANS) -> None:
        self.spans: deque[ReadableSpan] = deque(maxlen=size)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def of_trace(self, trace_id: int) -> list[ReadableSpan]:
        return sorted(
            (s for s in list(self.spans) if s.context is not None and s.context.trace_id == trace_id),
            key=lambda s: s.start_time or 0,
        )

    def latest_traces(self, limit: int) -> list[list[ReadableSpan]]:
        """The `limit` traces with the latest finished spans, newest first, each with its
        spans kept here."""
        traces: dict[int, list[ReadableSpan]] = {}
        for span in reversed(list(self.spans)):
            if span.context is None:
                continue
            found = traces.get(span.context.trace_id)
            if found is None:
                if len(traces) == limit:
                    continue
                found = traces[span.context.trace_id] = []
            found.append(span)
        return [sorted(spans, key=lambda s: s.start_time or 0) for spans in traces.values()]

    def mentioning(self, text: str, limit: int) -> list[list[ReadableSpan]]:
        """The `limit` latest traces one of whose spans names `text` (a payment's, an
        order's id) in its name, an attribute or an event's attribute, each with its spans
        kept here: what a console looks for to draw one flow."""
        spans = list(self.spans)
        found: list[int] = []
        for span in reversed(spans):
            if span.context is None or span.context.trace_id in found:
                continue
            if _mentions(span, text):
                found.append(span.context.trace_id)
                if len(found) == limit:
                    break
        wanted = set(found)
        traces: dict[int, list[ReadableSpan]] = {t: [] for t in found}
        for span in spans:
            if span.context is not None and span.context.trace_id in wanted:
                traces[span.context.trace_id].append(span)
        return [sorted(t, key=lambda s: s.start_time or 0) for t in traces.values()]


def _mentions(span: ReadableSpan, text: str) -> bool:
    if text in span.name:
        return True
    values = [*(span.attributes or {}).values()]
    for event in span.events:
        values += (event.attributes or {}).values()
    return any(isinstance(v, str) and text in v for v in values)


class Tracing:
    """A process's tracer provider, its ring of recent spans and its exporter; a no-op
    when `settings.sdk_disabled`. Each runtime has one (the tests run several apps in one
    Python process, each with its own `service.name`)."""

    def __init__(self, service: str, settings: TracingSettings) -> None:
        self.service = service
        self.enabled = not settings.sdk_disabled
        self.recent = RecentSpans(settings.kept_spans)
        self.provider: TracerProvider | None = None
        self.tracer: Tracer | None = None
        # The last context a publish span was opened under, and its parsed span context.
        self._publish_parent: tuple[str | None, Any] = (None, None)
        if self.enabled:
            self._start(settings)

    def _start(self, settings: TracingSettings) -> None:
        global _api, _context, _current, _SPAN_KEY, _Context
        from opentelemetry import context, trace
        from opentelemetry.context.context import Context
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
        from opentelemetry.trace.propagation import _SPAN_KEY as span_key

        # The sampler comes from OTEL_TRACES_SAMPLER (parent-based, always on by default).
        self.provider = TracerProvider(resource=Resource.create({"service.name": self.service}))
        processors: list[Any] = [self.recent]
        if settings.exporter_otlp_endpoint or settings.exporter_otlp_traces_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # The exporter reads its endpoint, headers and timeout from the OTEL_* variables.
            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        for processor in processors:
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("sandbank")
        # Under the default sampler and id generator, spans are built by `open_span` (the
        # SDK's own Span, processors and resource) without the generic sampling path: the
        # same spans.
        sampler = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
        self.lean = (
            sampler in _PARENT_BASED_ON
            and type(getattr(self.tracer, "id_generator", None)) is RandomIdGenerator
            and all(hasattr(self.tracer, a) for a in ("_span_limits", "_instrumentation_scope", "span_processor"))
        )
        if self.lean:
            # The ring's own append rather than its `on_end`, which calls it.
            ends = tuple(self.recent.spans.append if p is self.recent else p.on_end for p in processors)
            self._started = _lean_spans(self.tracer, ends)
            # A sampled span's flags, by whether its trace id is random (the only other flag).
            random_id = trace.TraceFlags.RANDOM_TRACE_ID
            self._sampled = {
                0: trace.TraceFlags(trace.TraceFlags.SAMPLED),
                random_id: trace.TraceFlags(trace.TraceFlags.SAMPLED | random_id),
            }
        _api, _context, _SPAN_KEY, _Context = trace, context, span_key, Context
        runtime = context._RUNTIME_CONTEXT
        _current = runtime._current_context if isinstance(runtime, ContextVarsRuntimeContext) else _RuntimeVar()

    def open_span(self, name: str, parent: Any, kind: Any, attributes: Mapping[str, Any] | None = None) -> Span:
        """A started span: child of `parent` (a span context; None: the current span's),
        its attributes given once. Under the default sampler (sampled when its parent is)
        the SDK's Span is built here directly: the generic `start_span` asks the sampler,
        wraps the parent in a context and back, and meters itself, for a third of a span's
        CPU on the hot path."""
        tracer: Any = self.tracer
        assert tracer is not None
        if parent is None:
            parent = _current_span().get_span_context()
        if not self.lean:
            context = _api.set_span_in_context(_api.NonRecordingSpan(parent))
            return tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        ids = tracer.id_generator
        # A span context is the tuple (trace id, span id, remote, flags, state, valid); the
        # ids are the SDK's RandomIdGenerator's (`lean`), drawn here as it draws them.
        if parent[5]:
            trace_id, flags, state = parent[0], parent[3], parent[4]
            random_id = flags & _api.TraceFlags.RANDOM_TRACE_ID
            if not flags & _api.TraceFlags.SAMPLED:
                return _api.NonRecordingSpan(
                    _api.SpanContext(trace_id, ids.generate_span_id(), False, _api.TraceFlags(random_id), state)
                )
        else:
            parent, state = None, _api.DEFAULT_TRACE_STATE
            trace_id = getrandbits(128) or ids.generate_trace_id()
            random_id = _api.TraceFlags.RANDOM_TRACE_ID
        span_id = getrandbits(64) or ids.generate_span_id()
        context = _tuple(_api.SpanContext, (trace_id, span_id, False, self._sampled[random_id], state, True))
        return self._started(name, context, parent, kind, attributes)

    def flush(self, timeout_s: float = 2.0) -> None:
        """Send what the exporter still queues (the runtime stops; it may start again)."""
        if self.provider is not None:
            self.provider.force_flush(int(timeout_s * 1000))

    # --- HTTP ---------------------------------------------------------------------------------

    def outgoing(self, method: str, url: str) -> AbstractContextManager[dict[str, str]]:
        """A client span around a call to another process; inside, the headers that carry
        its `traceparent` (to be sent with the call). Nothing without tracing."""
        if self.tracer is None or _untraced("/" + url.split("//", 1)[-1].partition("/")[2]):
            return nullcontext({})
        attributes = {"http.request.method": method, "url.full": url}
        return _Outgoing(self, method, None, _api.SpanKind.CLIENT, attributes)

    # --- Kafka --------------------------------------------------------------------------------

    def start_publish(self, topic: str, context: str | None, key: str | None = None) -> Span | None:
        """A producer span for an outbox row about to be sent, child of the context it was
        written in; its own context goes out as the message's `traceparent`. Ended by the
        caller once the broker acknowledged it. None for a row written outside a trace.
        The message's `key` (a payment's, an order's id) is what the console finds a
        flow's trace by, even before any saga event names it."""
        if self.tracer is None or context is None:
            return None
        attributes = {"messaging.destination.name": topic}
        if key:
            attributes["messaging.kafka.message.key"] = key
        # The messages of one handling follow each other in the outbox with its context:
        # the last one parsed is kept (a span context is immutable).
        parent = self._publish_parent
        if parent[0] != context:
            parent = self._publish_parent = (context, _remote(context))
        return self.open_span(f"{topic} publish", parent[1], _api.SpanKind.PRODUCER, attributes)

    def span(
        self,
        name: str,
        *,
        parent: str | None = None,
        consumer: bool = False,
        attributes: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[Span | None]:
        """A span around a block, current inside it: a message's handling (`consumer`,
        child of the `parent` context its headers carry) or a background job (a sweep).
        A raised error is recorded on it."""
        if self.tracer is None:
            return nullcontext()
        return _Current(self, name, parent, _api.SpanKind.CONSUMER if consumer else _api.SpanKind.INTERNAL, attributes)

    # --- what GET /internal/traces reads -------------------------------------------------------

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [_public(s) for s in self.recent.of_trace(int(trace_id, 16))]

    def latest(self, limit: int) -> list[list[dict[str, Any]]]:
        return [[_public(s) for s in spans] for spans in self.recent.latest_traces(limit)]

    def mentioning(self, text: str, limit: int) -> list[list[dict[str, Any]]]:
        return [[_public(s) for s in spans] for spans in self.recent.mentioning(text, limit)]


def headers_context(headers: Sequence[tuple[str, bytes | None]]) -> str | None:
    """The trace context a received Kafka message carries."""
    return context_of_headers(headers)


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def _public(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as GET /internal/traces answers it (shared.internal.TraceSpan)."""
    context = span.context
    parent = span.parent
    start, end = span.start_time or 0, span.end_time or 0
    service = span.resource.attributes.get("service.name", "") if span.resource else ""
    return {
        "trace_id": _hex(context.trace_id, 32) if context else "",
        "span_id": _hex(context.span_id, 16) if context else "",
        "parent_span_id": _hex(parent.span_id, 16) if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "service": str(service),
        "start_unix_nano": start,
        "end_unix_nano": end,
        "duration_ms": round((end - start) / 1e6, 3),
        "status": span.status.status_code.name.lower(),
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
        "events": [
            {
                "name": e.name,
                "time_unix_nano": e.timestamp,
                "attributes": {k: _plain(v) for k, v in (e.attributes or {}).items()},
            }
            for e in span.events
        ],
        "links": [
            {"trace_id": _hex(link.context.trace_id, 32), "span_id": _hex(link.context.span_id, 16)}
            for link in span.links
        ],
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class RequestObserver(Protocol):
    """What ServerSpans tells of each request (shared.metrics.Metrics): that one came in,
    and its latency."""

    def request_started(self) -> None: ...

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None: ...


class ServerSpans:
    """A server span per HTTP request, continuing the caller's `traceparent` and named by
    its route template (`POST /v1/payments/transfers`) once routing found it; and, given
    `metrics`, the request's latency under that template (`/v1/payments/{id}`, never the
    path itself; `unmatched` when no route matched).

    One ASGI wrapper does both, so a request goes through one `send` wrapper and one pair
    of clock reads, not two (the metrics had a middleware of their own). OpenTelemetry's
    own FastAPI instrumentation did the span for about a millisecond of CPU per request
    (its ASGI middleware collects a dozen attributes, parses the URL and wraps every
    send); on the payment path's three requests that doubled the CPU a transfer costs in
    `make bench`. This one costs one span, its attributes set at its start and once at
    its end."""

    def __init__(self, app: ASGIApp, tracing: Tracing, metrics: RequestObserver | None = None) -> None:
        self.app = app
        self.tracing = tracing
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        metrics = None if path in _UNMEASURED else self.metrics
        traced = self.tracing.tracer is not None and not _untraced(path)
        if metrics is None and not traced:
            await self.app(scope, receive, send)
            return
        if metrics is not None:
            metrics.request_started()
        method = scope.get("method", "")
        span = token = None
        if traced:
            parent = state = None
            for key, value in scope.get("headers", ()):
                if key == b"traceparent":
                    parent = value.decode("latin-1")
                elif key == b"tracestate":
                    state = value.decode("latin-1")
            span = self.tracing.open_span(
                method,
                _remote(f"{parent};{state}" if parent and state else parent),
                _api.SpanKind.SERVER,
                {"http.request.method": method, "url.path": path},
            )
            token = _enter(span)
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            if span is not None:
                span.record_exception(exc)
            raise
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path_format", None)
            if metrics is not None:
                name = template or getattr(route, "path", None) or "unmatched"
                metrics.observe_request(name, method, status, time.perf_counter() - started)
            if span is not None:
                if template:
                    span.update_name(f"{method} {template}")
                    span.set_attributes({"http.route": template, "http.response.status_code": status})
                else:
                    span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(_api.StatusCode.ERROR)
                _leave(token)
                span.end()
