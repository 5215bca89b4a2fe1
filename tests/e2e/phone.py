"""What a phone does, as helpers the e2e tests share."""

from __future__ import annotations

import asyncio
import random
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shared.sandbox import OPERATOR


@dataclass
class Phone:
    """A logged-in customer, as a phone app holds it."""

    client: httpx.AsyncClient
    customer_id: str
    phone: str
    password: str
    tokens: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens['access_token']}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.post(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    async def open_account(self, kind: str = "checking") -> dict[str, Any]:
        r = await self.post("/v1/accounts", json={"kind": kind})
        assert r.status_code == 201, r.text
        return r.json()

    async def balance(self, account_id: str) -> int:
        r = await self.get(f"/v1/accounts/{account_id}")
        assert r.status_code == 200, r.text
        return int(r.json()["balance_minor"])

    async def deposit(self, account_id: str, amount: str, key: str | None = None) -> dict[str, Any]:
        r = await self.post(
            "/v1/sandbox/deposits",
            json={"account_id": account_id, "amount": amount, "currency": "CNY"},
            headers={"Idempotency-Key": key or str(uuid.uuid4())},
        )
        assert r.status_code == 202, r.text
        return r.json()

    async def settled(self, deposit_id: str) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            body = (await self.get(f"/v1/sandbox/deposits/{deposit_id}")).json()
            return body if body["status"] != "pending" else None

        return await eventually(done)


def new_phone_number() -> str:
    return f"+86139{random.randint(0, 99_999_999):08d}"


async def eventually(probe: Callable[[], Awaitable[Any]], timeout_s: float = 10.0, every_s: float = 0.02) -> Any:
    """Bounded wait for eventual consistency: the probe's first truthy answer."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(every_s)


# An operator session per gateway client, for reading the sandbox inbox.
_operators: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[str, str]] = weakref.WeakKeyDictionary()


async def operator_headers(client: httpx.AsyncClient) -> dict[str, str]:
    if client not in _operators:
        r = await client.post(
            "/v1/auth/login", json={"phone": OPERATOR.phone, "password": OPERATOR.password, "device_id": "pytest-ops"}
        )
        assert r.status_code == 200, r.text
        _operators[client] = {"authorization": f"Bearer {r.json()['access_token']}"}
    return _operators[client]


async def inbox(client: httpx.AsyncClient, phone: str) -> list[dict[str, Any]]:
    """The text messages sent to `phone`, newest first, read as an operator from the sandbox inbox."""
    for _ in range(2):
        r = await client.get("/v1/sandbox/inbox", params={"phone": phone}, headers=await operator_headers(client))
        if r.status_code != 401:  # the operator's session ended (a sandbox reset, expiry): log in again
            break
        _operators.pop(client, None)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def sms_code(client: httpx.AsyncClient, phone: str, kind: str) -> str:
    """The newest one-time code of `kind` (registration_code, step_up_code) sent to `phone`."""
    codes = [m["code"] for m in await inbox(client, phone) if m["kind"] == kind and m["code"]]
    assert codes, f"no {kind} was sent to {phone}"
    return str(codes[0])


async def register(client: httpx.AsyncClient, phone: str, password: str, name: str) -> httpx.Response:
    """Register as a phone does: ask for a code, read it from the SMS, send it with the rest."""
    r = await client.post("/v1/auth/registrations", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = await sms_code(client, phone, "registration_code")
    body = {"phone": phone, "code": code, "password": password, "name": name}
    return await client.post("/v1/auth/register", json=body)


async def register_and_login(client: httpx.AsyncClient, name: str = "Test Customer") -> Phone:
    phone, password = new_phone_number(), f"pw-{uuid.uuid4().hex[:12]}"
    r = await register(client, phone, password, name)
    assert r.status_code == 201, r.text
    customer_id = r.json()["customer_id"]
    r = await client.post("/v1/auth/login", json={"phone": phone, "password": password, "device_id": "pytest"})
    assert r.status_code == 200, r.text
    return Phone(client, customer_id, phone, password, r.json())
