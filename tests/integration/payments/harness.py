"""The payments service under test beside accounts: customers and money set up through
accounts, payments started over payments' HTTP API, and the saga watched on the two
services' topics."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.events import Envelope
from shared.events import accounts as acc
from shared.events import payments as ev
from tests.integration.harness import AccountHolder, Bank, Customer, Tap

TERMINAL_EVENTS = (ev.PaymentCompleted.TYPE, ev.PaymentFailed.TYPE)
SETTLE_TIMEOUT_S = 20.0
BILLER_SETTLEMENT = "internal:biller-settlement"
MERCHANT_SETTLEMENT = "internal:merchant-settlement"
TOPUP_SETTLEMENT = "internal:topup-settlement"


@dataclass(frozen=True)
class Payer(AccountHolder):
    account_id: str


@dataclass
class Payments:
    """payments (its HTTP API and payments.events) with the accounts `Bank` it pays through."""

    backend: str
    app: Any
    http: httpx.AsyncClient
    bank: Bank
    tap: Tap  # payments.events
    # Customer accounts a test touched: none may keep an active hold once it ends.
    involved: list[str] = field(default_factory=list)

    # --- set-up through accounts --------------------------------------------------------

    async def customer(self, amount_minor: int = 0, *, kyc_class: str = "I") -> Payer:
        """A new customer with a checking account holding `amount_minor`."""
        customer_id = str(uuid.uuid4())
        # A mainland mobile number (1[3-9] and 9 digits), as payments resolves a payee's phone.
        phone = f"+8613{uuid.uuid4().int % 10**9:09d}"
        r = await self.bank.http.post(
            "/internal/customers",
            json={"customer_id": customer_id, "phone": phone, "name": "Test Customer", "kyc_class": kyc_class},
            headers=self.bank.service_headers,
        )
        assert r.status_code == 201, r.text
        payer = Payer(Customer(customer_id, phone, kyc_class, self.bank.customer_headers(customer_id)), "")
        account_id = await self.open_account(payer)
        if amount_minor:
            await self.bank.fund(account_id, amount_minor)
        return Payer(payer.customer, account_id)

    async def open_account(self, payer: Payer, kind: str = "checking") -> str:
        account_id = await self.bank.open_account(payer.customer, kind)
        self.involved.append(account_id)
        return account_id

    async def balance(self, account_id: str) -> int:
        return int((await self.bank.account(account_id))["balance_minor"])

    # --- payments' API ---------------------------------------------------------------------

    async def post(
        self,
        path: str,
        payer: Payer,
        body: dict[str, Any],
        *,
        key: str | None = None,
        with_key: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {**payer.headers, **(headers or {})}
        if with_key:
            headers["Idempotency-Key"] = key or str(uuid.uuid4())
        return await self.http.post(f"/v1/payments/{path}", json=body, headers=headers)

    async def start(
        self,
        path: str,
        payer: Payer,
        body: dict[str, Any],
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Start a payment; it is accepted (202) and pending."""
        r = await self.post(path, payer, {"payer_account_id": payer.account_id, **body}, key=key, headers=headers)
        assert r.status_code == 202, r.text
        payment: dict[str, Any] = r.json()
        assert payment["status"] == "pending", payment
        assert r.headers["location"] == f"/v1/payments/{payment['id']}" == payment["links"]["self"]
        return payment

    async def get(self, payer: Payer, payment_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/payments/{payment_id}", headers=payer.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def settled(self, payer: Payer, payment_id: str, timeout_s: float = SETTLE_TIMEOUT_S) -> dict[str, Any]:
        """Poll GET /v1/payments/{id} until the saga is terminal, for at most `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            payment = await self.get(payer, payment_id)
            if payment["status"] != "pending":
                return payment
            if loop.time() > deadline:
                raise AssertionError(f"payment {payment_id} still {payment['stage']} after {timeout_s:.0f}s")
            await asyncio.sleep(0.02)

    async def pay(self, path: str, payer: Payer, body: dict[str, Any]) -> dict[str, Any]:
        """Start a payment and wait until it is completed or failed."""
        return await self.settled(payer, (await self.start(path, payer, body))["id"])

    async def summary(self) -> dict[str, Any]:
        r = await self.http.get("/v1/admin/payments/summary", headers=self.bank.operator_headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def listed(self, payer: Payer) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/payments", params={"limit": 100}, headers=payer.headers)
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]

    # --- the saga on the topics ---------------------------------------------------------------

    async def story(self, payment_id: str) -> list[Envelope]:
        """payments.events of one payment, up to its terminal event."""
        await self.tap.wait_for(
            lambda s: (
                s.envelope is not None and s.envelope.subject == payment_id and s.envelope.type in TERMINAL_EVENTS
            ),
            what=f"terminal event of payment {payment_id}",
        )
        return [s.envelope for s in self.tap.seen if s.envelope is not None and s.envelope.subject == payment_id]

    async def hold_facts(self, payment_id: str, last: str) -> list[Envelope]:
        """accounts.events about the payment's hold (its id is the payment id), up to `last`."""

        def about(e: Envelope | None) -> bool:
            return e is not None and e.data.get("hold_id") == payment_id

        await self.bank.tap.wait_for(
            lambda s: about(s.envelope) and s.envelope is not None and s.envelope.type == last,
            what=f"{last} for hold {payment_id}",
        )
        return [s.envelope for s in self.bank.tap.seen if s.envelope is not None and about(s.envelope)]


def types(envelopes: list[Envelope]) -> list[str]:
    return [e.type for e in envelopes]


# A payment risk approved at its request: the hold and its capture are one command.
COMPLETED_STORY = [ev.PaymentRequested.TYPE, ev.PaymentCompleted.TYPE]
CAPTURED = [acc.HoldCaptured.TYPE]
RELEASED = [acc.FundsReserved.TYPE, acc.HoldReleased.TYPE]
