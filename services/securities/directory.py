"""Where a customer's cash accounts are: a query to the accounts service over HTTP
(synchronous calls between services are for queries only; money moves by command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.observability import outgoing_headers
from shared.problems import Problem, unavailable


@dataclass(frozen=True)
class CashAccount:
    id: str
    kind: str
    currency: str


class AccountsDirectory:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(5.0, connect=2.0),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def accounts(self, token: str) -> list[CashAccount]:
        """The caller's accounts, oldest first, as accounts lists them for their token."""
        try:
            response = await self.client.get("/v1/accounts", headers=outgoing_headers(token))
        except httpx.TransportError:
            raise unavailable("accounts") from None
        if response.status_code == 401:
            raise Problem(401, "unauthorized", "accounts did not accept the access token")
        if response.status_code != 200:
            raise unavailable("accounts")
        items: list[dict[str, Any]] = response.json()["items"]
        return [CashAccount(a["id"], a["kind"], a["currency"]) for a in items]

    async def securities_account(self, token: str) -> CashAccount:
        for account in await self.accounts(token):
            if account.kind == "securities_cash":
                return account
        raise no_securities_account()

    async def transfer_pair(self, token: str, bank_account_id: str | None) -> tuple[CashAccount, CashAccount]:
        """(bank account, securities cash account) for a bank-securities transfer: the
        named checking or savings account, or the customer's first checking account."""
        accounts = await self.accounts(token)
        securities = next((a for a in accounts if a.kind == "securities_cash"), None)
        if securities is None:
            raise no_securities_account()
        if bank_account_id is not None:
            bank = next((a for a in accounts if a.id == bank_account_id), None)
            if bank is None:
                raise Problem(404, "not-found", f"account {bank_account_id} was not found")
            if bank.kind not in ("checking", "savings"):
                raise Problem(422, "not-a-bank-account", f"account {bank_account_id} is a {bank.kind} account")
        else:
            bank = next((a for a in accounts if a.kind == "checking"), None)
            if bank is None:
                raise Problem(409, "no-bank-account", "open a checking account first (POST /v1/accounts)")
        return bank, securities


def no_securities_account() -> Problem:
    return Problem(
        409,
        "no-securities-account",
        'open a securities cash account first (POST /v1/accounts {"kind": "securities_cash"})',
    )
