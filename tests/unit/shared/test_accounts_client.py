"""The accounts client puts a caller's id or phone in one path segment of accounts', and
asks nothing for an id that would walk up its path."""

from __future__ import annotations

import httpx
import pytest

from shared.accounts_client import AccountsClient


def client(asked: list[str]) -> AccountsClient:
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"type": "not-found"})

    return AccountsClient("http://accounts", lambda: "service-token", transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("account_id", ["", ".", ".."])
async def test_a_dot_segment_is_no_account_and_asks_nothing(account_id: str) -> None:
    asked: list[str] = []
    accounts = client(asked)

    assert await accounts.account(account_id) is None
    assert await accounts.by_phone(account_id) is None
    assert asked == []
    await accounts.close()


async def test_ids_and_phones_stay_in_their_segment() -> None:
    asked: list[str] = []
    accounts = client(asked)

    await accounts.account("a?b#c")
    await accounts.by_phone("+86/../1")
    await accounts.accounts_of("c/../x")

    assert asked == [
        "/internal/accounts/a%3Fb%23c",
        "/internal/customers/by-phone/%2B86%2F..%2F1",
        "/internal/customers/c%2F..%2Fx/accounts",
    ]
    await accounts.close()
