"""Queries to accounts for resolving payers and payees (HTTP, service token, pooled).

Account holders, kinds and classes rarely change (nothing changes a KYC class today), so
answers are kept for half a minute; "not found" is never kept:
a burst of payments from one account asks accounts once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from shared.observability import outgoing_headers
from shared.problems import Problem, unavailable
from shared.schemas.accounts import AccountDirectoryEntry, CustomerDirectoryEntry

log = logging.getLogger(__name__)


class Directory:
    def __init__(self, base_url: str, token: Callable[[], str], ttl_s: float = 30.0) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            timeout=httpx.Timeout(5.0, connect=2.0),
        )
        self.token = token
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, object]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, path: str) -> dict | None:
        cached = self._cache.get(path)
        if cached and cached[0] > time.monotonic():
            return cached[1]  # type: ignore[return-value]
        response = None
        for attempt in (1, 2):  # a GET is safe to repeat once on a dropped connection
            try:
                response = await self.client.get(path, headers=outgoing_headers(self.token()))
                break
            except httpx.TransportError as exc:
                log.warning("accounts lookup %s failed (attempt %d): %r", path, attempt, exc)
        if response is None:
            raise unavailable("accounts")
        if response.status_code == 404:
            body = None
        elif response.status_code == 200:
            body = response.json()
        else:
            raise Problem(502, "upstream-error", f"accounts answered {response.status_code}")
        if body is not None:  # "not found" is not kept: the account may open a moment later
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[path] = (time.monotonic() + self.ttl_s, body)
        return body

    async def account(self, account_id: str) -> AccountDirectoryEntry | None:
        body = await self._get(f"/internal/accounts/{account_id}")
        return AccountDirectoryEntry.model_validate(body) if body else None

    async def by_phone(self, phone: str) -> CustomerDirectoryEntry | None:
        body = await self._get(f"/internal/customers/by-phone/{phone}")
        return CustomerDirectoryEntry.model_validate(body) if body else None
