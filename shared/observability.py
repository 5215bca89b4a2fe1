"""Structured JSON logs, request and correlation ids, and the health endpoints."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.tracing import trace_id

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._at: tuple[int, str] = (-1, "")

    def _second(self, created: float) -> str:
        """The record's second as text, formatted once a second rather than once a line
        (each request logs one)."""
        second = int(created)
        if self._at[0] != second:
            self._at = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return self._at[1]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._second(record.created) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if cid := correlation_id_var.get():
            entry["correlation_id"] = cid
        if rid := request_id_var.get():
            entry["request_id"] = rid
        if tid := trace_id():
            entry["trace_id"] = tid
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class EveryFewSeconds(logging.Filter):
    """Lets one record of a kind through every `period_s` seconds, and says how many of
    that kind it held back meanwhile. aiokafka logs each failed connect, fetch and
    heartbeat while the broker is away, dozens a second; the broker watch
    (shared/kafka/watch.py) reports the outage in one line and on /readyz."""

    def __init__(self, period_s: float = 10.0, *, loggers: str = "") -> None:
        super().__init__()
        self.period_s = period_s
        # Only records of loggers under this name are held back ("" for all).
        self.loggers = loggers
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.loggers):
            return True
        # The kind: the logger, the level and the message's start (ids and addresses vary).
        kind = (record.name, record.levelno, str(record.msg)[:40])
        now = time.monotonic()
        last, held = self._last.get(kind, (0.0, 0))
        if now - last < self.period_s:
            self._last[kind] = (last, held + 1)
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[kind] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} like it in the last {self.period_s:.0f}s not logged)"
        return True


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    # What neither format prints, not gathered for every record (the logging HOWTO's
    # "Optimization"): the caller's file and line, found by walking its frames, and the
    # thread's and process's names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every coordinator hiccup at ERROR/WARNING; keep ours readable.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    handler.addFilter(EveryFewSeconds(loggers="aiokafka"))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # shared.migrations logs what it did in one line; Alembic would add two per start.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def outgoing_headers(token: str | None) -> dict[str, str]:
    """Headers for a call to another service on behalf of the current request: the bearer
    token, and the request and correlation ids so its logs join this request's."""
    headers = {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if rid := request_id_var.get():
        headers["x-request-id"] = rid
    if cid := correlation_id_var.get():
        headers["x-correlation-id"] = cid
    return headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


# A request or correlation id a client may choose: what ids look like (a UUID, hex, a
# W3C trace id, `req-42`, `app/1.2:login`), at most 128 characters. Anything else (a
# space, a control character, markup, a byte beyond ASCII) is replaced by an id of ours:
# the id goes into every log line, span and call to another service on the request's
# behalf, and is echoed in a header.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:/@+=-]{1,128}")


def _client_id(scope: Scope, name: bytes) -> str | None:
    sent = _header(scope, name)
    return sent if sent is not None and _CLIENT_ID.fullmatch(sent) else None


class RequestContextMiddleware:
    """Gives every request an id (X-Request-ID, honoured if the client sent a well-formed
    one: `_CLIENT_ID`) and a correlation id (X-Correlation-ID, likewise; defaults to the
    request id), echoes both on the response, and logs one line per request.

    It also puts the security headers on every answer, which may carry a customer's data:
    not to be stored by a cache (unless the route says how, as a stream's `no-cache`),
    sniffed as another type, framed by another page, or named in a Referer. They were a
    middleware of their own, whose wrapper of `send` was a share of every request's CPU."""

    NO_STORE = (b"cache-control", b"no-store")
    SECURITY_HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("sandbank.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_id(scope, b"x-request-id") or uuid.uuid4().hex
        correlation_id = _client_id(scope, b"x-correlation-id") or request_id
        scope["sandbank.request_id"] = request_id  # for a 500, answered outside this middleware
        rid_token = request_id_var.set(request_id)
        cid_token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                cached = any(name.lower() == b"cache-control" for name, _ in headers)
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-correlation-id", correlation_id.encode()))
                if not cached:
                    headers.append(self.NO_STORE)
                headers.extend(self.SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            path = scope.get("path", "")
            if path not in ("/healthz", "/readyz", "/metrics"):
                self.log.info(
                    "%s %s %d %.1fms",
                    scope.get("method"),
                    path,
                    status,
                    (time.perf_counter() - started) * 1000,
                )
            request_id_var.reset(rid_token)
            correlation_id_var.reset(cid_token)


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413 before they reach a route. A route that
    takes files names its own, larger limit in `routes` (its path template, as
    `/v1/claims/{claim_id}/documents`: a `{name}` is one path segment)."""

    def __init__(self, app: ASGIApp, max_bytes: int, routes: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = [(_template(path), limit) for path, limit in (routes or {}).items()]

    def limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.routes if pattern.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope.get("path", "")) if self.routes else self.max_bytes
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            await self._too_large(scope, send, max_bytes)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._too_large(scope, send, max_bytes)

    async def _too_large(self, scope: Scope, send: Send, max_bytes: int) -> None:
        # The shape of every other problem (shared/problems.py), which imports this module.
        problem: dict[str, Any] = {
            "type": "https://sandbank.dev/problems/payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": f"request bodies are limited to {max_bytes} bytes",
        }
        if rid := request_id_var.get():
            problem["request_id"] = rid
        problem["instance"] = scope.get("path", "")
        body = orjson.dumps(problem)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


def _template(path: str) -> re.Pattern[str]:
    """A route's path template as a pattern of the paths it serves."""
    parts = re.split(r"({\w+})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))
