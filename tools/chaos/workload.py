"""The clients: each registers a customer of its own through the gateway, opens a checking
and a securities cash account, and then sends mixed traffic in all four domains, every
request under an Idempotency-Key. An answer lost to a timeout, a reset connection or a
5xx is an unknown outcome, retried with the same key while the run lasts."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from shared.sandbox import OPERATOR
from tools.chaos.checker import Line
from tools.chaos.model import DONE, ORDER_KINDS, TERMINAL, History, Operation

REQUEST_TIMEOUT_S = 10.0
# How long one request is retried (same key) through a fault before it counts as unknown.
RETRY_FOR_S = 60.0
SETUP_DEPOSIT_MINOR = 5_000_00
# The weights of the operations a client picks from. Amounts stay under the step-up
# thresholds (1,000.00 to a new payee, 5,000.00 for any payment) and far under the
# daily outflow limit of a new (class II) customer.
WEIGHTS = {
    "transfer": 25,
    "bill": 10,
    "deposit": 10,
    "securities_transfer": 12,
    "order_buy": 10,
    "order_sell": 6,
    "policy": 4,
    "claim": 8,
}
RETRYABLE_PROBLEMS = ("idempotency-key-in-flight", "rate-limited", "busy")
# The share of buys tried as a limit order that part-fills and is then cancelled (when
# the cash covers one: see Client.part_filling_buy).
PART_FILL_SHARE = 0.4


def slug(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1] or None
    except ValueError:
        return None


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class Stopped(Exception):
    """The run is over: a request that was still retrying gives up."""


class Client:
    """One phone: a customer of its own, its accounts and the operations it sent."""

    def __init__(self, index: int, gateway_url: str, history: History, seed: int, clock: Callable[[], float]) -> None:
        self.index = index
        self.http = httpx.AsyncClient(base_url=gateway_url, timeout=REQUEST_TIMEOUT_S)
        self.history = history
        self.rng = random.Random(seed * 1000 + index)
        self.clock = clock
        self.phone = f"+86136{self.rng.randint(0, 99_999_999):08d}"
        self.password = f"chaos-{uuid.uuid4().hex[:12]}"
        self.device = f"chaos-{index}"
        self.headers: dict[str, str] = {}
        self.checking = ""
        self.securities = ""
        self.policy: dict[str, Any] | None = None
        self.peers: list[str] = []  # the other clients' checking accounts
        self.symbol = ""
        self.running = True
        self.errors: dict[str, int] = {}

    async def close(self) -> None:
        await self.http.aclose()

    # -- requests ----------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, retry_for_s: float = RETRY_FOR_S
    ) -> httpx.Response | None:
        """The request, retried (same key) through transport errors, 5xx, 429 and a key still
        in flight, until `retry_for_s` passes; None when no answer came."""
        deadline = time.monotonic() + retry_for_s
        delay = 0.25
        last: httpx.Response | None = None
        while True:
            headers = dict(self.headers)
            if key:
                headers["Idempotency-Key"] = key
            try:
                last = await self.http.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as e:
                self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
                last = None
            else:
                problem = slug(last)
                if last.status_code == 401 and problem != "step-up-required" and self.headers:
                    await self.login()
                    continue
                if last.status_code < 500 and problem not in RETRYABLE_PROBLEMS:
                    return last
                self.errors[f"http_{last.status_code}"] = self.errors.get(f"http_{last.status_code}", 0) + 1
            if time.monotonic() > deadline or not self.running:
                return last if last is not None and last.status_code < 500 else None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)

    async def must(self, method: str, path: str, body: Any = None, *, key: str | None = None) -> dict[str, Any]:
        """A setup step that must succeed (retried through faults)."""
        r = await self.request(method, path, body, key=key, retry_for_s=180)
        if r is None or r.status_code >= 400:
            answer = f"{r.status_code} {r.text[:200]}" if r is not None else "no answer"
            raise RuntimeError(f"client {self.index}: {method} {path} failed: {answer}")
        return r.json() if r.content else {}

    async def login(self) -> None:
        self.headers = {}
        body = {"phone": self.phone, "password": self.password, "device_id": self.device}
        r = await self.request("POST", "/v1/auth/login", body, retry_for_s=180)
        if r is None or r.status_code != 200:
            raise RuntimeError(f"client {self.index} could not log in: {r.status_code if r else 'no answer'}")
        self.headers = {"authorization": f"Bearer {r.json()['access_token']}"}

    async def send(self, op: Operation, path: str, body: dict[str, Any]) -> Operation:
        """A request that moves money: the model records what the bank answered."""
        op.path, op.body = path, body
        self.history.add(op)
        r = await self.request("POST", path, body, key=op.key)
        op.attempts += 1
        self.record(op, r)
        return op

    def record(self, op: Operation, r: httpx.Response | None) -> None:
        op.answered_at = self.clock()
        if r is None:
            op.answer = "unknown"
            return
        op.http_status = r.status_code
        if r.status_code in (200, 201, 202):
            answer = r.json()
            op.answer, op.id, op.status = "accepted", answer.get("id"), answer.get("status")
        else:
            op.answer, op.problem = "refused", slug(r) or f"http_{r.status_code}"

    # -- setup -------------------------------------------------------------------------------

    async def register(self, operator_headers: dict[str, str]) -> None:
        await self.must("POST", "/v1/auth/registrations", {"phone": self.phone})
        r = await self.http.get("/v1/sandbox/inbox", params={"phone": self.phone}, headers=operator_headers)
        code = next(m["code"] for m in r.json()["items"] if m["kind"] == "registration_code")
        await self.must(
            "POST",
            "/v1/auth/register",
            {"phone": self.phone, "code": code, "password": self.password, "name": f"Chaos Client {self.index}"},
        )
        await self.login()
        self.checking = (await self.must("POST", "/v1/accounts", {"kind": "checking"}))["id"]
        self.securities = (await self.must("POST", "/v1/accounts", {"kind": "securities_cash"}))["id"]
        op = await self.deposit(SETUP_DEPOSIT_MINOR)
        if op.id:
            await self.until_terminal(op, timeout_s=60)

    async def until_terminal(self, op: Operation, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not op.terminal:
            await self.read_back(op)
            if not op.terminal:
                await asyncio.sleep(0.2)

    # -- the operations ----------------------------------------------------------------------

    def new(self, kind: str, **fields: Any) -> Operation:
        return Operation(kind=kind, key=str(uuid.uuid4()), client=self.index, started_at=self.clock(), **fields)

    async def deposit(self, amount: int | None = None) -> Operation:
        amount = amount or self.rng.randint(10_00, 300_00)
        op = self.new("deposit", credit=self.checking, amount_minor=amount)
        return await self.send(
            op, "/v1/sandbox/deposits", {"account_id": self.checking, "amount": money(amount), "currency": "CNY"}
        )

    async def transfer(self) -> Operation | None:
        if not self.peers:
            return None
        payee = self.rng.choice(self.peers)
        amount = self.rng.randint(1_00, 50_00)
        op = self.new("transfer", debit=self.checking, credit=payee, amount_minor=amount)
        body = {"payer_account_id": self.checking, "payee_account_id": payee, "amount": money(amount)}
        return await self.send(op, "/v1/payments/transfers", body)

    async def bill(self) -> Operation:
        amount = self.rng.randint(1_00, 30_00)
        op = self.new("bill", debit=self.checking, amount_minor=amount)
        reference = f"31{self.rng.randint(0, 99_999_999):08d}"
        body = {
            "payer_account_id": self.checking,
            "biller_code": "SH-WATER",
            "bill_reference": reference,
            "amount": money(amount),
        }
        return await self.send(op, "/v1/payments/bills", body)

    async def securities_transfer(self) -> Operation:
        if self.rng.random() < 0.25:
            amount = self.rng.randint(10_00, 50_00)
            op = self.new("securities_transfer", debit=self.securities, credit=self.checking, amount_minor=amount)
            body = {"from": "securities", "amount": money(amount), "currency": "CNY", "bank_account_id": self.checking}
        else:
            amount = self.rng.randint(100_00, 600_00)
            op = self.new("securities_transfer", debit=self.checking, credit=self.securities, amount_minor=amount)
            body = {"from": "bank", "amount": money(amount), "currency": "CNY", "bank_account_id": self.checking}
        return await self.send(op, "/v1/securities/transfers", body)

    async def order_buy(self) -> Operation | None:
        if not self.symbol:
            return None
        if self.rng.random() < PART_FILL_SHARE and (op := await self.part_filling_buy()) is not None:
            return op
        op = self.new("order_buy", debit=self.securities, quantity=100)
        body = {"symbol": self.symbol, "side": "buy", "type": "market", "quantity": 100}
        return await self.send(op, "/v1/securities/orders", body)

    async def part_filling_buy(self) -> Operation | None:
        """A limit buy at a best ask for one lot more than that ask shows: the ask's shares
        fill, the last lot rests, and the client cancels it, so the order ends `cancelled`
        with shares filled, having moved money. Only where the cash covers it (the shares
        shown are whole lots of 1 to 300, so on a cheap listing's small ask); None else."""
        quotes = await self.request("GET", "/v1/market/quotes", retry_for_s=10)
        cash = await self.request("GET", "/v1/securities/cash", retry_for_s=10)
        if quotes is None or cash is None or quotes.status_code != 200 or cash.status_code != 200:
            return None
        budget = int(cash.json()["tradable_minor"]) - 10_00  # fees and a margin
        fitting = []
        for q in quotes.json()["items"]:
            if q.get("st") or q.get("board") not in ("main", "etf") or not q.get("asks"):
                continue
            price, shown = q["asks"][0]["price"], int(q["asks"][0]["quantity"])
            cost = int(Decimal(price) * 1000) * (shown + 100) // 10
            if cost * 1.001 <= budget:
                # Fewest ticks to its price first: a walk of a few basis points rarely moves
                # such a listing a whole tick, so its book (and the resting lot) stays put
                # long enough to be cancelled before the next book fills it.
                ticks = Decimal(price) / Decimal(q["tick_size"])
                fitting.append((ticks, cost, q["symbol"], price, shown + 100))
        if not fitting:
            return None
        _ticks, _cost, symbol, price, quantity = min(fitting)
        op = self.new("order_buy", debit=self.securities, quantity=quantity)
        body = {"symbol": symbol, "side": "buy", "type": "limit", "quantity": quantity, "price": price}
        await self.send(op, "/v1/securities/orders", body)
        await self.cancel(op)
        return op

    async def cancel(self, op: Operation, timeout_s: float = 30.0) -> None:
        """Cancel a resting order, once what it filled has settled (a `filling` order is
        not cancellable yet); an order that ends first is left as it is."""
        deadline = time.monotonic() + timeout_s
        # A buy still `pending` (its cash not yet held) would be cancelled before it met
        # the book: it is cancelled once it rests.
        while op.id and self.running and op.status in (None, "pending") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            await self.read_back(op)
        while op.id and self.running and time.monotonic() < deadline:
            r = await self.request("DELETE", f"/v1/securities/orders/{op.id}", retry_for_s=10)
            if r is not None and r.status_code in (200, 202):
                op.status = r.json().get("status")
                return
            await self.read_back(op)
            if op.terminal or (r is not None and slug(r) != "order-not-cancellable"):
                return
            await asyncio.sleep(0.2)

    async def order_sell(self) -> Operation | None:
        r = await self.request("GET", "/v1/securities/positions", retry_for_s=10)
        if r is None or r.status_code != 200:
            return None
        sellable = [p for p in r.json()["items"] if p["sellable_quantity"] >= 100]
        if not sellable:
            return None
        position = self.rng.choice(sellable)
        op = self.new("order_sell", credit=self.securities, quantity=100)
        body = {"symbol": position["symbol"], "side": "sell", "type": "market", "quantity": 100}
        return await self.send(op, "/v1/securities/orders", body)

    async def buy_policy(self) -> Operation | None:
        quote = {"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"}
        r = await self.request("POST", "/v1/insurance/quotes", quote, key=str(uuid.uuid4()), retry_for_s=10)
        if r is None or r.status_code != 201:
            return None
        quoted = r.json()
        op = self.new("policy", debit=self.checking, amount_minor=int(quoted["premium_minor"]))
        await self.send(op, "/v1/insurance/policies", {"quote_id": quoted["id"], "account_id": self.checking})
        if op.id:
            self.policy = {"id": op.id, "op": op}
        return op

    async def claim(self) -> Operation | None:
        """A claim on the client's policy once it is active: reported, documented and
        submitted, then approved automatically (under 1,000.00) and paid."""
        if self.policy is None:
            return await self.buy_policy()
        policy_op: Operation = self.policy["op"]
        if policy_op.status != "active":
            await self.read_back(policy_op)
            if policy_op.status == "failed":
                self.policy = None
            if policy_op.status != "active":
                return None
        r = await self.request("GET", f"/v1/insurance/policies/{policy_op.id}", retry_for_s=10)
        if r is None or r.status_code != 200:
            return None
        policy = r.json()
        amount = self.rng.randint(50_00, 500_00)
        if amount == 888_88 or policy["remaining_sum_insured_minor"] < amount:
            return None
        # A day between cover and today (the sandbox clock's): a second claim on the same
        # day is a duplicate the rules reject, which the model takes as it comes.
        first = date.fromisoformat(policy["covered_from"] or policy["starts_on"])
        clock = await self.request("GET", "/v1/sandbox/clock", retry_for_s=10)
        today = (
            date.fromisoformat(clock.json()["bank_day"]) if clock is not None and clock.status_code == 200 else first
        )
        incident = first + timedelta(days=self.rng.randint(0, max(0, (today - first).days)))
        op = self.new("claim", credit=self.checking, amount_minor=amount)
        body = {
            "policy_id": policy["id"],
            "kind": "accidental_injury",
            "amount": money(amount),
            "incident_date": incident.isoformat(),
        }
        await self.send(op, "/v1/insurance/claims", body)
        if op.id:
            await self.finish_claim(op)
        return op

    async def finish_claim(self, op: Operation) -> None:
        """Add the claim's documents and submit it (what a phone retries until it is done)."""
        for doc in ("accident_report", "medical_invoice"):
            digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{op.id}/{doc}").hex * 2
            await self.request(
                "POST",
                f"/v1/insurance/claims/{op.id}/documents",
                {"kind": doc, "name": f"{doc}.jpg", "size_bytes": 182_004, "checksum": digest},
                key=f"{op.key}-{doc}",
            )
        r = await self.request("POST", f"/v1/insurance/claims/{op.id}/submit", key=f"{op.key}-submit")
        if r is not None and r.status_code == 200:
            op.status = r.json().get("status")

    async def one(self) -> Operation | None:
        kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        match kind:
            case "transfer":
                return await self.transfer()
            case "bill":
                return await self.bill()
            case "deposit":
                return await self.deposit()
            case "securities_transfer":
                return await self.securities_transfer()
            case "order_buy":
                return await self.order_buy()
            case "order_sell":
                return await self.order_sell()
            case "policy":
                return await self.buy_policy() if self.policy is None else None
            case _:
                return await self.claim()

    async def drive(self, pause_s: tuple[float, float]) -> None:
        while self.running:
            try:
                await self.one()
            except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as e:
                self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
                await asyncio.sleep(1)
            await asyncio.sleep(self.rng.uniform(*pause_s))

    # -- reading back ------------------------------------------------------------------------

    async def resolve(self, op: Operation) -> None:
        """An operation whose answer never came: the same request under the same key gets
        the bank's first answer (the gateway's idempotency), or makes it now."""
        if op.id or op.kind == "claim" or op.body is None:
            return
        r = await self.request("POST", op.path, op.body, key=op.key, retry_for_s=30)
        op.attempts += 1
        if r is not None:
            self.record(op, r)

    async def read_back(self, op: Operation, *, finish: bool = False) -> None:
        """The operation's status as the customer sees it now; with `finish`, a claim the
        client never got submitted is submitted (before the quiet period, never after)."""
        if not op.id:
            return
        path = {
            "deposit": f"/v1/sandbox/deposits/{op.id}",
            "transfer": f"/v1/payments/{op.id}",
            "bill": f"/v1/payments/{op.id}",
            "securities_transfer": f"/v1/securities/transfers/{op.id}",
            "order_buy": f"/v1/securities/orders/{op.id}",
            "order_sell": f"/v1/securities/orders/{op.id}",
            "policy": f"/v1/insurance/policies/{op.id}",
            "claim": f"/v1/insurance/claims/{op.id}",
        }[op.kind]
        r = await self.request("GET", path, retry_for_s=30)
        if r is None or r.status_code != 200:
            return
        body = r.json()
        op.status = body.get("status")
        if finish and op.kind == "claim" and op.status in ("reported", "documents_submitted"):
            await self.finish_claim(op)
            return
        if op.kind == "claim" and op.status == "approved" and (body.get("payout") or {}).get("reason"):
            op.status = "payout_failed"
        amount = body.get("premium_minor") if op.kind == "policy" else body.get("amount_minor")
        if amount is not None:
            op.final_amount_minor = int(amount)
        if op.kind in ORDER_KINDS:
            op.filled_quantity = int(body.get("filled_quantity") or 0)
            if op.terminal and op.filled_quantity and op.trades is None:
                op.trades = await self.trades_of(op.id, body["symbol"], body["side"])

    async def trades_of(self, order_id: str, symbol: str, side: str) -> list[tuple[int, int]] | None:
        """The order's trade confirmations (shares, net_minor); None if they could not be read."""
        found: list[tuple[int, int]] = []
        cursor: str | None = None
        while True:
            params = {"symbol": symbol, "side": side, "limit": "200", **({"cursor": cursor} if cursor else {})}
            r = await self.request("GET", f"/v1/securities/trades?{httpx.QueryParams(params)}", retry_for_s=30)
            if r is None or r.status_code != 200:
                return None
            page = r.json()
            found += [(int(t["quantity"]), int(t["net_minor"])) for t in page["items"] if t["order_id"] == order_id]
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    async def accounts(self) -> tuple[dict[str, tuple[int, int]], list[Line]]:
        """The client's accounts as its customer sees them: balance and held, and every
        statement line."""
        balances: dict[str, tuple[int, int]] = {}
        lines: list[Line] = []
        for account in (self.checking, self.securities):
            if not account:
                continue
            r = await self.request("GET", f"/v1/accounts/{account}", retry_for_s=30)
            if r is not None and r.status_code == 200:
                body = r.json()
                balances[account] = (int(body["balance_minor"]), int(body["held_minor"]))
            cursor: str | None = None
            while True:
                params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
                r = await self.request(
                    "GET", f"/v1/accounts/{account}/transactions?{httpx.QueryParams(params)}", retry_for_s=30
                )
                if r is None or r.status_code != 200:
                    break
                page = r.json()
                lines += [
                    Line(
                        account,
                        item.get("reference_id"),
                        int(item["amount_minor"]),
                        item.get("id"),
                        item.get("description", ""),
                    )
                    for item in page["items"]
                ]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        return balances, lines


async def operator_headers(gateway_url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=REQUEST_TIMEOUT_S) as http:
        r = await http.post(
            "/v1/auth/login", json={"phone": OPERATOR.phone, "password": OPERATOR.password, "device_id": "chaos-setup"}
        )
        r.raise_for_status()
        return {"authorization": f"Bearer {r.json()['access_token']}"}


async def cheapest_symbol(client: Client) -> str:
    """The listed share with the lowest price, so a 100-share market buy stays small; not
    one of the boards a buyer must be enabled for (STAR, ChiNext, ST)."""
    quotes = await client.must("GET", "/v1/market/quotes")
    open_to_all = [
        q for q in quotes["items"] if q.get("last") and not q.get("st") and q.get("board") in ("main", "etf")
    ]
    priced = [(float(q["last"]), q["symbol"]) for q in open_to_all]
    return min(priced)[1] if priced else ""


__all__ = ["DONE", "TERMINAL", "Client", "cheapest_symbol", "operator_headers"]
