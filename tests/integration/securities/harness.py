"""The securities service under test beside accounts: investors and cash set up through
accounts, orders and transfers through securities' HTTP API, prices moved with the
sandbox price control, sagas watched on securities.events and accounts.commands."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from services.securities import store
from services.securities.handlers import Context
from shared.events import Envelope
from shared.events.topics import ACCOUNTS_COMMANDS, SECURITIES_EVENTS
from tests.integration.harness import AccountHolder, Bank, Tap, eventually

SETTLE_TIMEOUT_S = 20.0
SETTLEMENT = "internal:securities-settlement"
PROCEEDS = "internal:securities-proceeds"


@dataclass(frozen=True)
class Investor(AccountHolder):
    checking_id: str
    securities_id: str


@dataclass
class Brokerage:
    """securities (its HTTP API, securities.events) with the accounts `Bank` it settles through."""

    backend: str
    app: Any
    http: httpx.AsyncClient
    bank: Bank
    tap: Tap  # securities.events and accounts.commands
    # Customer accounts a test touched: none may keep an active hold once it ends.
    involved: list[str] = field(default_factory=list)

    @property
    def ctx(self) -> Context:
        return self.app.state.ctx  # type: ignore[no-any-return]

    # --- set-up through accounts -----------------------------------------------------------

    async def investor(self, cash_minor: int = 0, *, checking_minor: int = 0, kyc_class: str = "I") -> Investor:
        """A customer with a checking and a securities cash account, funded as asked."""
        customer = await self.bank.new_customer(kyc_class)
        checking = await self.bank.open_account(customer, "checking")
        securities = await self.bank.open_account(customer, "securities_cash")
        for account_id, amount in ((checking, checking_minor), (securities, cash_minor)):
            if amount:
                await self.bank.fund(account_id, amount)
        self.involved += [checking, securities]
        return Investor(customer, checking, securities)

    async def cash(self, account_id: str) -> tuple[int, int]:
        """(balance_minor, held_minor)."""
        return (await self.bank.balances(account_id))[0]

    # --- the market --------------------------------------------------------------------------

    async def set_price(self, symbol: str, price: str, *, pinned: bool = True) -> dict[str, Any]:
        r = await self.http.post(
            f"/internal/market/{symbol}/price",
            json={"price": price, "pinned": pinned},
            headers=self.bank.operator_headers,
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def quote(self, symbol: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/market/quotes/{symbol}", headers=self.bank.service_headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def advance_days(self, days: int) -> None:
        """Move the sandbox clock of both services ahead, as the gateway's control does."""
        current = self.ctx.clock.offset.total_seconds()
        body = {"offset_s": current + days * 86_400}
        for http in (self.bank.http, self.http):
            r = await http.put("/internal/clock", json=body, headers=self.bank.service_headers)
            assert r.status_code == 200, r.text

    # --- orders ------------------------------------------------------------------------------

    async def place(self, investor: Investor, body: dict[str, Any], *, key: str | None = None) -> httpx.Response:
        headers = {**investor.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return await self.http.post("/v1/securities/orders", json=body, headers=headers)

    async def order(self, investor: Investor, order_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/securities/orders/{order_id}", headers=investor.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def until(self, investor: Investor, order_id: str, *statuses: str) -> dict[str, Any]:
        """Poll the order until it reaches one of `statuses` (or a final state: then compare)."""

        async def probe() -> dict[str, Any] | None:
            order = await self.order(investor, order_id)
            final = order["status"] in ("filled", "cancelled", "rejected")
            return order if order["status"] in statuses or final else None

        order = await eventually(probe, f"order {order_id} {'/'.join(statuses)}")
        assert order["status"] in statuses, order
        return order  # type: ignore[no-any-return]

    async def buy(
        self, investor: Investor, symbol: str, quantity: int, price: str | None = None, *, wait: str = "accepted"
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"symbol": symbol, "side": "buy", "type": "limit" if price else "market"}
        body |= {"quantity": quantity} | ({"price": price} if price else {})
        r = await self.place(investor, body)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "pending"
        return await self.until(investor, r.json()["id"], wait)

    async def cancel(self, investor: Investor, order_id: str) -> httpx.Response:
        return await self.http.delete(f"/v1/securities/orders/{order_id}", headers=investor.headers)

    async def orders(self, investor: Investor, **params: Any) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/securities/orders", params=params, headers=investor.headers)
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]

    async def positions(self, investor: Investor) -> dict[str, Any]:
        r = await self.http.get("/v1/securities/positions", headers=investor.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    # --- transfers ---------------------------------------------------------------------------

    async def transfer(self, investor: Investor, body: dict[str, Any], *, key: str | None = None) -> httpx.Response:
        headers = {**investor.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return await self.http.post("/v1/securities/transfers", json=body, headers=headers)

    async def transfer_settled(self, investor: Investor, transfer_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            r = await self.http.get(f"/v1/securities/transfers/{transfer_id}", headers=investor.headers)
            assert r.status_code == 200, r.text
            return r.json() if r.json()["status"] != "pending" else None

        return await eventually(probe, f"transfer {transfer_id} settled")  # type: ignore[no-any-return]

    # --- the sagas -------------------------------------------------------------------------------

    async def saga_of(self, order_id: str) -> tuple[str | None, str | None]:
        """An order's saga as stored: (step, outcome)."""
        async with self.app.state.runtime.db.read() as session:
            order = await session.scalar(select(store.Order).where(store.Order.id == order_id))
        assert order is not None, order_id
        return order.step, order.outcome

    async def applied(self, message_id: str) -> bool:
        """Whether this app's consumer has applied the message (its inbox has it)."""
        inbox = self.app.state.runtime.tables.inbox
        async with self.app.state.runtime.db.read() as session:
            found = await session.scalar(select(inbox.c.message_id).where(inbox.c.message_id == message_id))
        return found is not None

    @asynccontextmanager
    async def accounts_silent(self) -> AsyncIterator[None]:
        """accounts applies every command but its facts are lost (the sandbox's `drop`
        fault on its outgoing messages) until the block ends."""
        await self._accounts_fault({"mode": "drop", "duration_s": 600})
        try:
            yield
        finally:
            await self._accounts_fault({"mode": "none"})

    async def _accounts_fault(self, body: dict[str, Any]) -> None:
        r = await self.bank.http.put("/internal/faults", json=body, headers=self.bank.service_headers)
        assert r.status_code == 200, r.text

    # --- what went over Kafka -------------------------------------------------------------------

    def events(self, subject: str) -> list[Envelope]:
        """securities.events about one order (or transfer), in the order published."""
        return [
            s.envelope
            for s in self.tap.seen
            if s.record.topic == SECURITIES_EVENTS and s.envelope is not None and s.envelope.subject == subject
        ]

    async def event(self, subject: str, type_: str) -> Envelope:
        seen = await self.tap.wait_for(
            lambda s: (
                s.record.topic == SECURITIES_EVENTS
                and s.envelope is not None
                and s.envelope.subject == subject
                and s.envelope.type == type_
            ),
            what=f"{type_} for {subject}",
        )
        assert seen.envelope is not None
        return seen.envelope

    def commands(self, account_id: str, **data: str) -> list[Envelope]:
        """What was sent to accounts about one account (and, given `data`, one saga)."""
        return [
            s.envelope
            for s in self.tap.seen
            if s.record.topic == ACCOUNTS_COMMANDS
            and s.envelope is not None
            and s.envelope.subject == account_id
            and all(s.envelope.data.get(k) == v for k, v in data.items())
        ]
