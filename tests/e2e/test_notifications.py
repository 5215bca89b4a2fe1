"""Live notifications: what a customer is told, pushed over Server-Sent Events the moment
it happens, resumable with Last-Event-ID, and kept in a list with read marks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.phone import Phone, eventually, register_and_login
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

Event = dict[str, Any]
T = TypeVar("T")


class Stream:
    """One open `GET /v1/notifications/stream`, parsed into events as they arrive, each
    stamped with its arrival time (wall clock; `event_at` is on the sandbox clock)."""

    def __init__(self, base_url: str, phone: Phone, *, last_event_id: int | None = None, query: bool = False) -> None:
        self.base_url = base_url
        self.phone = phone
        self.last_event_id = last_event_id
        self.query = query
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.ready = asyncio.Event()
        self.status: int | None = None
        self.comments: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        headers = dict(self.phone.auth)
        params = {}
        if self.last_event_id is not None:
            if self.query:
                params["last_event_id"] = str(self.last_event_id)
            else:
                headers["Last-Event-ID"] = str(self.last_event_id)
        timeout = httpx.Timeout(5.0, read=None)
        async with (
            httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as client,
            client.stream("GET", "/v1/notifications/stream", headers=headers, params=params) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self.ready.set()
                return
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in fields:
                        event = json.loads(fields["data"])
                        event["_arrived"] = time.time()
                        event["_sse_id"] = int(fields["id"])
                        self.events.put_nowait(event)
                    fields = {}
                    self.ready.set()  # the first frame ("retry:") comes once the stream is subscribed
                elif line.startswith(":"):
                    self.comments.append(line)
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")

    async def __aenter__(self) -> Stream:
        self._task = asyncio.create_task(self._run())
        await self._unless_ended(self.ready.wait(), 10)
        assert self.status == 200, self.status
        return self

    async def _unless_ended(self, awaitable: Awaitable[T], timeout_s: float) -> T:
        """What `awaitable` gives within `timeout_s`; if the stream's task ends first, its
        error (or that it ended) rather than a timeout that hides why."""
        assert self._task is not None
        waiter = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({waiter, self._task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done and waiter not in done:
            done, _ = await asyncio.wait({waiter}, timeout=0.5)  # what came before the end still counts
        if waiter in done:
            return waiter.result()
        waiter.cancel()
        if self._task in done:
            self._task.result()
            raise AssertionError(f"the stream ended (status {self.status})")
        raise TimeoutError(f"nothing from the stream within {timeout_s}s")

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def next(self, match: Callable[[Event], bool] = lambda _e: True, timeout_s: float = 15) -> Event:
        """The next event that matches, skipping others."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            event = await self._unless_ended(self.events.get(), max(0.01, remaining))
            if match(event):
                return event


def latency_ms(event: Event, offset_s: float) -> float:
    """From `event_at` (sandbox time, `offset_s` ahead of the wall clock) to the arrival."""
    return (event["_arrived"] + offset_s - datetime.fromisoformat(event["event_at"]).timestamp()) * 1000


async def funded(gateway: httpx.AsyncClient, amount: str = "1000.00") -> tuple[Phone, dict[str, Any]]:
    phone = await register_and_login(gateway)
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return phone, account


async def transfer(payer: Phone, source: str, target: str, amount: str) -> str:
    r = await payer.post(
        "/v1/payments/transfers",
        json={"payer_account_id": source, "payee_account_id": target, "amount": amount},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def about(payment_id: str, kind: str) -> Callable[[Event], bool]:
    return lambda e: e["kind"] == kind and e["data"].get("payment_id") == payment_id


async def listed(phone: Phone, **params: Any) -> dict[str, Any]:
    r = await phone.get("/v1/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_transfer_reaches_the_payers_and_the_payees_open_streams(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    payer, source = await funded(gateway)
    payee, target = await funded(gateway, "1.00")
    latencies = []
    offset_s = (await payer.get("/v1/sandbox/clock")).json()["offset_s"]
    async with Stream(stack.gateway_url, payer) as payer_stream, Stream(stack.gateway_url, payee) as payee_stream:
        for amount in ("12.34", "5.00", "0.01", "3.21", "7.50"):
            payment_id = await transfer(payer, source["id"], target["id"], amount)
            sent = await payer_stream.next(about(payment_id, "payment_sent"))
            received = await payee_stream.next(about(payment_id, "payment_received"))
            latencies += [latency_ms(sent, offset_s), latency_ms(received, offset_s)]
    assert sent["title"] == "Money sent" and "7.50 CNY" in sent["body"]
    assert (received["data"]["amount"], received["data"]["amount_minor"]) == ("7.50", 750)
    assert "payer_account_id" not in received["data"]  # the payee learns the amount, not the payer's account
    assert sent["_sse_id"] == sent["id"] and not sent["read"]
    # Reported, not asserted: a shared machine's load would make any bound flaky. From the
    # moment payments wrote PaymentCompleted: its outbox, Kafka, the gateway's consumer and
    # commit, the wake-up, the stream's read and the socket.
    print(f"\nnotification latency event->stream ms: {sorted(round(x, 1) for x in latencies)}")


async def test_reconnecting_with_last_event_id_replays_what_was_missed(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    payer, source = await funded(gateway)
    _, target = await funded(gateway, "1.00")
    async with Stream(stack.gateway_url, payer) as stream:
        first = await stream.next(about(await transfer(payer, source["id"], target["id"], "1.00"), "payment_sent"))
    # Offline: two more payments complete.
    missed = [await transfer(payer, source["id"], target["id"], amount) for amount in ("2.00", "3.00")]

    async def both_stored() -> bool:
        items = (await listed(payer))["items"]
        return {i["data"]["payment_id"] for i in items} >= set(missed)

    await eventually(both_stored)
    for by_query in (False, True):
        async with Stream(stack.gateway_url, payer, last_event_id=first["id"], query=by_query) as stream:
            replayed = [await stream.next(timeout_s=5) for _ in missed]
            # All of them, oldest first (sagas may complete in another order than they began).
            assert {e["data"]["payment_id"] for e in replayed} == set(missed)
            assert [e["id"] for e in replayed] == sorted(e["id"] for e in replayed)
            assert all(e["id"] > first["id"] for e in replayed)
            # ... and then it is live again.
            live = await transfer(payer, source["id"], target["id"], "4.00")
            await stream.next(about(live, "payment_sent"))
        missed.append(live)


async def test_a_stream_without_last_event_id_starts_with_what_happens_next(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    payer, source = await funded(gateway)
    _, target = await funded(gateway, "1.00")
    earlier = await transfer(payer, source["id"], target["id"], "1.00")
    await eventually(lambda: _has(payer, earlier))
    async with Stream(stack.gateway_url, payer) as stream:
        later = await transfer(payer, source["id"], target["id"], "2.00")
        first = await stream.next()
    assert first["data"]["payment_id"] == later


async def _has(phone: Phone, payment_id: str) -> bool:
    return any(i["data"].get("payment_id") == payment_id for i in (await listed(phone))["items"])


async def test_a_failed_payment_says_why(stack: Stack, gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    _, target = await funded(gateway, "1.00")
    async with Stream(stack.gateway_url, payer) as stream:
        payment_id = await transfer(payer, source["id"], target["id"], "666.66")  # the risk magic amount
        failed = await stream.next(about(payment_id, "payment_failed"))
    assert failed["data"]["reason"] == "risk_rejected"
    assert "risk checks" in failed["body"] and "666.66 CNY" in failed["body"]


async def test_the_list_pages_filters_unread_and_marks_read(gateway: httpx.AsyncClient) -> None:
    payer, source = await funded(gateway)
    other, _ = await funded(gateway, "1.00")
    _, target = await funded(gateway, "1.00")
    ids = [await transfer(payer, source["id"], target["id"], f"{n}.00") for n in (1, 2, 3)]

    async def all_three() -> dict[str, Any] | None:
        page = await listed(payer)
        return page if len(page["items"]) == 3 else None

    page = await eventually(all_three)
    assert {i["data"]["payment_id"] for i in page["items"]} == set(ids)
    assert [i["id"] for i in page["items"]] == sorted((i["id"] for i in page["items"]), reverse=True)  # newest first
    assert page["unread_count"] == 3 and page["next_cursor"] is None

    first_page = await listed(payer, limit=2)
    assert len(first_page["items"]) == 2 and first_page["next_cursor"]
    rest = await listed(payer, limit=2, cursor=first_page["next_cursor"])
    assert [i["id"] for i in first_page["items"] + rest["items"]] == [i["id"] for i in page["items"]]

    newest = page["items"][0]["id"]
    r = await payer.post(f"/v1/notifications/{newest}/read")
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    assert (await payer.post(f"/v1/notifications/{newest}/read")).json()["read_at"] == r.json()["read_at"]
    unread = await listed(payer, unread="true")
    assert newest not in [i["id"] for i in unread["items"]] and unread["unread_count"] == 2

    stranger = await other.post(f"/v1/notifications/{newest}/read")
    assert stranger.status_code == 404 and stranger.json()["type"].endswith("/not-found")
    assert all(i["id"] != newest for i in (await listed(other))["items"])


async def test_watchlist_price_alert_and_order_fill_are_notified(
    stack: Stack, gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    symbol = "601398"
    investor = await register_and_login(gateway)
    checking = await investor.open_account("checking")
    cash = await investor.open_account("securities_cash")
    await investor.settled((await investor.deposit(cash["id"], "5000.00"))["id"])
    r = await investor.client.put("/v1/watchlist", json={"symbols": [symbol, "600519"]}, headers=investor.auth)
    assert r.status_code == 200, r.text
    assert (await investor.get("/v1/watchlist")).json() == {"symbols": ["600519", symbol]}
    bad = await investor.client.put("/v1/watchlist", json={"symbols": ["999999"]}, headers=investor.auth)
    assert bad.status_code == 422 and bad.json()["type"].endswith("/unknown-symbol")
    assert checking["id"]

    quote = (await investor.get(f"/v1/market/quotes/{symbol}")).json()
    prev_close = round(float(quote["prev_close"]) * 100)
    up_6pct = f"{prev_close * 106 // 10000}.{prev_close * 106 // 100 % 100:02d}"

    async def price(value: str, pinned: bool = True) -> None:
        r = await gateway.post(
            f"/v1/market/sandbox/{symbol}/price", json={"price": value, "pinned": pinned}, headers=operator_headers
        )
        assert r.status_code == 200, r.text

    try:
        async with Stream(stack.gateway_url, investor) as stream:
            await price(quote["prev_close"])  # re-arms the alert if the walk had crossed the line already
            await price(up_6pct)
            alert = await stream.next(lambda e: e["kind"] == "price_alert" and e["data"]["symbol"] == symbol)
            assert alert["data"]["direction"] == "up" and float(alert["data"]["change_pct"]) >= 5

            r = await investor.post(
                "/v1/securities/orders",
                json={"symbol": symbol, "side": "buy", "type": "market", "quantity": 100},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert r.status_code == 202, r.text
            filled = await stream.next(lambda e: e["kind"] == "order_filled")
        assert (filled["data"]["order_id"], filled["data"]["quantity"]) == (r.json()["id"], 100)
        # A market buy of one lot takes the best ask, a tick above the pinned price.
        ask = prev_close * 106 // 100 + 1
        assert filled["body"].startswith(f"Bought 100 {symbol} at {ask // 100}.{ask % 100:02d}")
    finally:
        await price(quote["prev_close"], pinned=False)


async def test_policy_issued_and_claim_paid_are_notified(stack: Stack, gateway: httpx.AsyncClient) -> None:
    customer, account = await funded(gateway)
    async with Stream(stack.gateway_url, customer) as stream:
        r = await customer.post(
            "/v1/insurance/quotes",
            json={"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"},
        )
        assert r.status_code == 201, r.text
        r = await customer.post(
            "/v1/insurance/policies",
            json={"quote_id": r.json()["id"], "account_id": account["id"]},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 202, r.text
        issued = await stream.next(lambda e: e["kind"] == "policy_issued")
        policy = (await customer.get(f"/v1/insurance/policies/{issued['data']['policy_id']}")).json()
        assert issued["data"]["number"] == policy["number"]

        r = await customer.post(
            "/v1/insurance/claims",
            json={
                "policy_id": policy["id"],
                "kind": "accidental_injury",
                "amount": "300.00",
                "incident_date": policy["starts_on"],
            },
        )
        assert r.status_code == 201, r.text
        claim_id = r.json()["id"]
        for doc in ("accident_report", "medical_invoice"):
            r = await customer.post(
                f"/v1/insurance/claims/{claim_id}/documents",
                json={"kind": doc, "name": f"{doc}.jpg", "size_bytes": 1000, "checksum": uuid.uuid4().hex * 2},
            )
            assert r.status_code == 201, r.text
        assert (await customer.post(f"/v1/insurance/claims/{claim_id}/submit")).status_code == 200
        approved = await stream.next(
            lambda e: e["kind"] == "claim_status_changed" and e["data"]["status"] == "approved"
        )
        paid = await stream.next(lambda e: e["kind"] == "claim_paid")
    assert approved["data"]["claim_id"] == paid["data"]["claim_id"] == claim_id
    assert (paid["data"]["amount"], paid["data"]["account_id"]) == ("300.00", account["id"])


async def test_too_many_streams_for_one_customer_are_refused(stack: Stack, customer: Phone) -> None:
    async with contextlib.AsyncExitStack() as streams:
        for _ in range(5):
            await streams.enter_async_context(Stream(stack.gateway_url, customer))
        sixth = Stream(stack.gateway_url, customer)
        task = asyncio.create_task(sixth._run())
        await asyncio.wait_for(sixth.ready.wait(), 10)
        await task
        assert sixth.status == 429


async def test_logging_out_ends_the_stream(stack: Stack, customer: Phone) -> None:
    async with Stream(stack.gateway_url, customer) as stream:
        assert (await customer.post("/v1/auth/logout")).status_code == 204
        task = stream._task
        assert task is not None

        async def ended() -> bool:
            return task.done()

        await eventually(ended, timeout_s=3)
