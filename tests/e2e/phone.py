"""What a phone does, as helpers the e2e tests share."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx


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


async def register_and_login(client: httpx.AsyncClient, name: str = "Test Customer") -> Phone:
    phone, password = new_phone_number(), f"pw-{uuid.uuid4().hex[:12]}"
    r = await client.post("/v1/auth/register", json={"phone": phone, "password": password, "name": name})
    assert r.status_code == 201, r.text
    customer_id = r.json()["customer_id"]
    r = await client.post("/v1/auth/login", json={"phone": phone, "password": password, "device_id": "pytest"})
    assert r.status_code == 200, r.text
    return Phone(client, customer_id, phone, password, r.json())
