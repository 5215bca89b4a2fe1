"""A customer one test registered, with the calls a test makes for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from sandbank_testing.basics import SandbankError, eventually, expect

if TYPE_CHECKING:
    from sandbank_testing.bank import Sandbank


@dataclass
class Customer:
    """A customer registered for one test, logged in, with an authenticated client."""

    bank: Sandbank
    customer_id: str
    phone: str
    password: str
    name: str
    client: httpx.Client
    access_token: str
    checking: str | None = None
    securities: str | None = None
    policy: dict[str, Any] | None = None

    def open_account(self, kind: str = "checking") -> str:
        """A new account of `kind` (checking, savings, securities_cash); its id."""
        return str(expect(self.client.post("/v1/accounts", json={"kind": kind}), 201)["id"])

    def balance(self, account_id: str | None = None) -> int:
        """The ledger balance in fen (minor units) of an account, by default the checking one."""
        account = account_id or self.checking
        return int(expect(self.client.get(f"/v1/accounts/{account}"), 200)["balance_minor"])

    def deposit(self, amount: str, account_id: str | None = None) -> dict[str, Any]:
        """Sandbox money in (POST /v1/sandbox/deposits), once it has settled."""
        body = {"account_id": account_id or self.checking, "amount": amount, "currency": "CNY"}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        started = expect(self.client.post("/v1/sandbox/deposits", json=body, headers=key), 202)
        deposit = self._settled(f"/v1/sandbox/deposits/{started['id']}")
        if deposit["status"] != "completed":
            raise SandbankError(f"the deposit of {amount} ended {deposit['status']}: {deposit}")
        return deposit

    def transfer(self, amount: str, *, to_account: str, from_account: str | None = None) -> dict[str, Any]:
        """Start a transfer (POST /v1/payments/transfers); the payment as accepted (202)."""
        body = {"payer_account_id": from_account or self.checking, "payee_account_id": to_account, "amount": amount}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        return dict(expect(self.client.post("/v1/payments/transfers", json=body, headers=key), 202))

    def payment(self, payment_id: str, timeout_s: float = 15.0) -> dict[str, Any]:
        """A payment once it has ended (completed or failed)."""
        return self._settled(f"/v1/payments/{payment_id}", timeout_s)

    def _settled(self, path: str, timeout_s: float = 15.0) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            body: dict[str, Any] = expect(self.client.get(path), 200)
            return body if body["status"] != "pending" else None

        return eventually(ended, timeout_s)

    def close(self) -> None:
        self.client.close()
