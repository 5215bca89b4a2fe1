"""The one client every service uses to ask accounts about accounts and customers:
queries only, over pooled HTTP with the calling service's token (money moves by
command, never by HTTP).

Account holders, kinds and classes rarely change, so answers about one account or one
phone are kept for half a minute; "not found" is never kept (the account may open a
moment later), nor is a customer's list of accounts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from shared.errors import ServiceUnavailable
from shared.observability import outgoing_headers
from shared.runtime import Runtime
from shared.schemas.accounts import AccountDirectoryEntry, AccountPublic, CustomerDirectoryEntry, DailyOutflowEntry
from shared.settings import TracingSettings
from shared.tracing import Tracing

log = logging.getLogger(__name__)
# Path segments that would move up accounts' path (an HTTP client normalises them away).
_DOT_SEGMENTS = ("", ".", "..")

# What a route that asks accounts may answer for it (`from_state("accounts", problems=...)`).
UNAVAILABLE = {503: "the accounts service is not answering"}


class AccountsClient:
    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        ttl_s: float = 30.0,
    ) -> None:
        # Several replicas (comma-separated): a lookup whose connection fails tries the next.
        self.bases = [u.strip().rstrip("/") for u in base_url.split(",") if u.strip()]
        self._turn = 0
        self.client = httpx.AsyncClient(
            base_url=self.bases[0],
            transport=transport,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            timeout=httpx.Timeout(5.0, connect=2.0),
        )
        self.token = token
        # A client span per call, its traceparent sent along (none until the runtime's).
        self.tracing = Tracing("accounts-client", TracingSettings(sdk_disabled=True))
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Any]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, path: str, *, keep: bool = True, fresh: bool = False) -> Any:
        """The JSON at `path`, or None for a 404: kept for `ttl_s` when `keep`, and asked
        again, whatever is kept, when `fresh`."""
        cached = self._cache.get(path)
        if keep and not fresh and cached and cached[0] > time.monotonic():
            return cached[1]
        response = None
        start = self._turn
        for attempt in range(1, len(self.bases) + 2):  # a GET is safe to repeat on a dropped connection
            at = (start + attempt - 1) % len(self.bases)
            url = path if len(self.bases) == 1 else self.bases[at] + path
            try:
                with self.tracing.outgoing("GET", path) as traced:
                    response = await self.client.get(url, headers=outgoing_headers(self.token()) | traced)
                self._turn = at  # the replica that answered serves the next lookups too
                break
            except httpx.TransportError as exc:
                log.warning("accounts lookup %s failed (attempt %d): %r", path, attempt, exc)
        if response is None or response.status_code not in (200, 404):
            if response is not None:
                log.warning("accounts answered %d to %s", response.status_code, path)
            raise ServiceUnavailable("accounts")
        if response.status_code == 404:
            return None
        body = response.json()
        if keep:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[path] = (time.monotonic() + self.ttl_s, body)
        return body

    async def account(self, account_id: str, *, fresh: bool = False) -> AccountDirectoryEntry | None:
        """An account's directory entry, kept for `ttl_s`; `fresh` asks accounts again."""
        if account_id in _DOT_SEGMENTS:
            return None
        body = await self._get(f"/internal/accounts/{quote(account_id, safe=':')}", fresh=fresh)
        return AccountDirectoryEntry.model_validate(body) if body else None

    async def by_phone(self, phone: str) -> CustomerDirectoryEntry | None:
        if phone in _DOT_SEGMENTS:
            return None
        body = await self._get(f"/internal/customers/by-phone/{quote(phone, safe='')}")
        return CustomerDirectoryEntry.model_validate(body) if body else None

    async def accounts_of(self, customer_id: str) -> list[AccountDirectoryEntry]:
        """A customer's accounts, oldest first."""
        body = await self._get(f"/internal/customers/{quote(customer_id, safe='')}/accounts", keep=False)
        return [AccountDirectoryEntry.model_validate(a) for a in (body or {}).get("items", [])]

    async def balance(self, account_id: str) -> AccountPublic | None:
        """An account's balance, holds and available cash now (never kept: it moves)."""
        if account_id in _DOT_SEGMENTS:
            return None
        body = await self._get(f"/v1/accounts/{quote(account_id, safe=':')}", keep=False)
        return AccountPublic.model_validate(body) if body else None

    async def daily_outflow(self, customer_id: str) -> DailyOutflowEntry | None:
        """Today's payments out against the customer's daily limit (never kept: it moves)."""
        if customer_id in _DOT_SEGMENTS:
            return None
        body = await self._get(f"/internal/customers/{quote(customer_id, safe='')}/daily-outflow", keep=False)
        return DailyOutflowEntry.model_validate(body) if body else None


def accounts_client(runtime: Runtime, transport: httpx.AsyncBaseTransport | None = None) -> AccountsClient:
    """The process's accounts client: it asks with the process's own service token, and
    closes when the runtime stops. `transport`: tests reach an accounts app in process."""
    client = AccountsClient(
        runtime.settings.urls.accounts, lambda: runtime.tokens.service_token("accounts"), transport=transport
    )
    client.tracing = runtime.tracing
    runtime.on_stop("accounts client", client.close)
    return client
