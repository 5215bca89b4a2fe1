"""A webhook receiver for a test: a real HTTP server on a free loopback port that checks
every delivery's signature with the endpoint's secret and waits for the event a test
expects.

The signature check is the recipe of docs/webhooks.md, copied as a receiver would copy
it: this package imports nothing of the bank.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_HEADER = "Sandbank-Signature"
# How long a delivery that comes before the endpoint's secret is known waits for it.
SECRET_WAIT_S = 5.0

Event = dict[str, Any]


def verify(payload: bytes, header: str, secret: str, tolerance_s: float = 300, now: float | None = None) -> int:
    """Raise ValueError unless `payload` was signed with `secret` within `tolerance_s`; answer `t`."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in fields if k.strip() == "t"]
    signatures = [v for k, v in fields if k.strip() == "v1"]
    if not stamps or not stamps[0].isdigit() or not signatures:
        raise ValueError("malformed Sandbank-Signature header")
    t = int(stamps[0])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise ValueError("no signature matches")
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        raise ValueError("timestamp outside the tolerance")
    return t


@dataclass
class Refused:
    """A delivery whose signature did not verify: answered 400 and kept apart."""

    reason: str
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """Deliveries POSTed to `url`: `events` verified (each answered 200), `refused` not
    (answered 400). `secret` is the endpoint's, set once it is registered."""

    secret: str | None = None
    host: str = "127.0.0.1"
    events: list[Event] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    url: str = ""
    endpoint_id: str | None = None
    _arrived: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.receive(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a suite's output is its own

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="sandbank-webhooks", daemon=True).start()
        self.url = f"http://{self.host}:{self._server.server_address[1]}/hooks"
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """Keep one delivery; the status code to answer it with."""
        with self._arrived:
            self._arrived.wait_for(lambda: self.secret is not None, SECRET_WAIT_S)
            header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
            try:
                if self.secret is None:
                    raise ValueError("the endpoint's secret was not known yet")
                verify(body, header, self.secret)
                event = json.loads(body)
            except ValueError as e:
                self.refused.append(Refused(str(e), body, headers))
                status = 400
            else:
                self.events.append(event)
                status = 200
            self._arrived.notify_all()
        return status

    def use_secret(self, secret: str) -> None:
        with self._arrived:
            self.secret = secret
            self._arrived.notify_all()

    def expect(self, event_type: str, within: float = 10, where: Callable[[Event], bool] | None = None) -> Event:
        """The first verified event of `event_type` for which `where(event)` holds, received so
        far or within `within` seconds; else the test fails, saying what did arrive."""

        def found() -> Event | None:
            return next((e for e in self.events if e.get("type") == event_type and (where is None or where(e))), None)

        with self._arrived:
            event = found() if self._arrived.wait_for(lambda: found() is not None, within) else None
            if event is not None:
                return event
            raise AssertionError(self._missing(event_type, within, where is not None))

    def _missing(self, event_type: str, within: float, filtered: bool) -> str:
        wanted = f"a {event_type} event{' matching `where`' if filtered else ''}"
        lines = [f"{wanted} did not arrive within {within:g}s at {self.url}"]
        if self.events:
            lines.append(f"{len(self.events)} arrived:")
            lines += [f"  {e.get('type')} {e.get('id')} {json.dumps(e.get('data'))}" for e in self.events]
        else:
            lines.append("no event arrived")
        if self.refused:
            lines.append(f"{len(self.refused)} refused, their signatures did not verify:")
            lines += [f"  {r.reason}: {r.body[:200]!r}" for r in self.refused]
        return "\n".join(lines)
