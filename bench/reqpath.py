"""The two money-moving HTTP hops in process, for an exact count of instructions: N transfer
requests through the gateway's app (`POST /v1/payments/transfers`) or payments' app (the
same path, as the gateway forwards it), called as an ASGI server calls them.

    python -m bench.reqpath gateway 2000
    python -m bench.reqpath payments 2000

Run it under `valgrind --tool=callgrind` with N and with 0; the difference over N is what
one request costs on that hop's request path (README, Speed). AUTH_KEYS_DIR names the key
pairs (`sandbank keys --dir DIR` makes them): the tokens are real and verified. Each
request's log line is formatted as in the stack and written to /dev/null.

What each hop does around its request path is there as in the stack, on SQLite files: the
gateway's rate limits, session check (live in its cache, as under load), idempotency
look-up and audit record, and its call to payments over a pooled aiohttp connection to a
socket in this process that answers every call with a canned 202; payments' token check,
validation, payer and payee look-ups, new-device and step-up checks and its 202. Left out:
what lies past the request path (payments' starter, which writes the saga: its payment is
made here as the starter makes it, not written; the accounts directory, answered from
memory as its cache answers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI

from shared.auth import ROLE_CUSTOMER, TokenIssuer
from shared.keys import Keyring
from shared.observability import configure_logging
from shared.schemas.accounts import AccountDirectoryEntry
from shared.settings import AuthSettings, DbSettings, ServiceUrls

CUSTOMER, PAYEE = "c-1", "c-2"
PAYER_ACCOUNT = "5a0e1d3c-0000-4000-8000-000000000101"
PAYEE_ACCOUNT = "5a0e1d3c-0000-4000-8000-000000000201"
SESSION = "s-1"
BODY = orjson.dumps({"payer_account_id": PAYER_ACCOUNT, "payee_account_id": PAYEE_ACCOUNT, "amount": "1.00"})
PATH = "/v1/payments/transfers"
ACCEPTED = orjson.dumps({"id": "p-1", "status": "pending", "links": {"self": "/v1/payments/p-1"}})

Call = Callable[[str], Awaitable[int]]


def _asgi_call(app: FastAPI, token: str) -> Call:
    """One request to `app` as uvicorn hands it over: its scope, its body in one message."""

    async def call(key: str) -> int:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"idempotency-key", key.encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
            ],
            "state": {},
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # the client stays connected
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return call


class CannedPayments(asyncio.Protocol):
    """payments as the gateway's pool sees it: every request answered 202, keep-alive."""

    ANSWER = (
        b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nlocation: /v1/payments/p-1\r\n"
        b"content-length: " + str(len(ACCEPTED)).encode() + b"\r\n\r\n" + ACCEPTED
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(self.ANSWER)


async def gateway(n: int, directory: Path) -> None:
    from gateway import store
    from gateway.main import create_app
    from gateway.settings import GatewaySettings, Settings

    server = await asyncio.get_running_loop().create_server(CannedPayments, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    unlimited = 10**9
    settings = Settings(
        service="gateway",
        db=DbSettings(url=f"sqlite+aiosqlite:///{directory / 'gateway.db'}"),
        urls=ServiceUrls(payments=f"http://127.0.0.1:{port}"),
        gateway=GatewaySettings(
            rate_ip_per_s=unlimited,
            rate_ip_burst=unlimited,
            rate_customer_per_s=unlimited,
            rate_customer_burst=unlimited,
        ),
    )
    app = create_app(settings)
    gw = app.state.gateway
    await gw.runtime.db.create_all(store.Base.metadata)
    await gw.upstreams.start()
    token = gw.runtime.tokens.issue(CUSTOMER, [ROLE_CUSTOMER], audience="gateway", session_id=SESSION)
    gw.sessions._active[SESSION] = (float("inf"), CUSTOMER)  # a live session, as its cache holds it
    try:
        await _drive(_asgi_call(app, token), n, warm=3)
    finally:
        await gw.upstreams.close()
        await gw.runtime.db.dispose()
        server.close()


class Directory:
    """The accounts directory as payments' cache answers it: both accounts known."""

    ENTRIES = {
        PAYER_ACCOUNT: AccountDirectoryEntry(
            id=PAYER_ACCOUNT, customer_id=CUSTOMER, kind="checking", currency="CNY", kyc_class="standard", holder="A**"
        ),
        PAYEE_ACCOUNT: AccountDirectoryEntry(
            id=PAYEE_ACCOUNT, customer_id=PAYEE, kind="checking", currency="CNY", kyc_class="standard", holder="B**"
        ),
    }

    async def account(self, account_id: str, *, fresh: bool = False) -> AccountDirectoryEntry | None:
        return self.ENTRIES.get(account_id)


class Starter:
    """The payment as payments' starter makes it, not written (not this hop's request path)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    async def start(self, draft: Any, correlation_id: str | None) -> Any:
        from services.payments import handlers
        from services.payments.domain import PAY
        from shared.saga.model import begin

        payment = handlers.new_payment(self.ctx, draft, correlation_id)
        begin(payment, PAY, payment.created_at, self.ctx.saga.timeouts)  # as risk approves it
        return payment


async def payments(n: int, directory: Path) -> None:
    from services.payments import store
    from services.payments.main import create_app
    from services.payments.settings import Settings

    app = create_app(Settings(service="payments", db=DbSettings(url=f"sqlite+aiosqlite:///{directory / 'p.db'}")))
    runtime = app.state.runtime
    await runtime.db.create_all(store.Base.metadata)
    app.state.accounts = Directory()
    app.state.starter = Starter(app.state.ctx)
    # The gateway's word that the customer is calling, as it forwards the request; for an
    # hour rather than one hop's seconds: under valgrind a run takes minutes.
    gateway_tokens = TokenIssuer(Keyring.load(AuthSettings().keys_dir, "gateway"), AuthSettings())
    token = gateway_tokens.issue(CUSTOMER, [ROLE_CUSTOMER], audience="payments", session_id=SESSION, ttl_s=3600)
    try:
        await _drive(_asgi_call(app, token), n, warm=3)
    finally:
        await runtime.db.dispose()


async def _drive(call: Call, n: int, *, warm: int) -> None:
    """`warm` requests (each hop's caches filled, as in a running stack), then `n`; each a
    new Idempotency-Key, each answered 202."""
    for i in range(warm + n):
        status = await call(str(uuid.uuid4()))
        if status != 202:
            raise SystemExit(f"request {i} answered {status}, not 202")


def main() -> None:
    hop, n = sys.argv[1], int(sys.argv[2])
    if "AUTH_KEYS_DIR" not in os.environ:
        raise SystemExit("set AUTH_KEYS_DIR (sandbank keys --dir DIR makes the key pairs)")
    run = {"gateway": gateway, "payments": payments}[hop]
    # Each request's log line, formatted as the stack's processes format it, into nothing.
    configure_logging(hop, "INFO", json=True)
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(n, Path(directory)))


if __name__ == "__main__":
    main()
