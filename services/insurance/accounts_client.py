"""The insurance service's HTTP client to accounts: queries only (money moves over
Kafka). It asks with the customer's own token, so accounts itself decides whether the
account is theirs."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from services.insurance.handlers import PayingAccount
from shared.observability import outgoing_headers
from shared.problems import unavailable


class AccountsClient:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(5.0, connect=2.0),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def customer_account(self, token: str, account_id: str) -> PayingAccount | None:
        """The caller's account, or None when accounts says it is not theirs (or not there)."""
        try:
            response = await self.http.get(
                f"/v1/accounts/{quote(account_id, safe=':')}", headers=outgoing_headers(token)
            )
        except httpx.TransportError:
            raise unavailable("accounts") from None
        if response.status_code in (403, 404, 422):
            return None
        if response.status_code != 200:
            raise unavailable("accounts")
        body = response.json()
        if not isinstance(body, dict) or body.get("id") != account_id:
            return None
        return PayingAccount(id=body["id"], kind=str(body.get("kind")), currency=str(body.get("currency")))
