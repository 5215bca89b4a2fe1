"""Securities' three lists (orders, trades, transfers with the bank) page by sequence
number, each on only its own cursor: another list's is a 400 `invalid-cursor`, though it
holds a sequence number of the same service, as is one written before cursors named their
list (the number alone)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest

from tests.integration.payments.test_requests import assert_problem
from tests.integration.securities.harness import Brokerage, Investor

pytestmark = pytest.mark.broker

LISTS = ["/v1/securities/orders", "/v1/securities/trades", "/v1/securities/transfers"]


@dataclass
class Lists:
    investor: Investor
    cursors: dict[str, str]  # each list's `next_cursor` after a page of one


@pytest.fixture(scope="module")
async def lists(brokerage: Brokerage) -> Lists:
    """An investor with two transfers in from the bank and two filled buys."""
    investor = await brokerage.investor(2_000_00, checking_minor=1_000_00)
    for _ in range(2):
        r = await brokerage.transfer(investor, {"from": "bank", "amount": "100.00"})
        assert r.status_code == 202, r.text
        assert (await brokerage.transfer_settled(investor, r.json()["id"]))["status"] == "completed"
    await brokerage.set_price("601398", "5.11")
    for _ in range(2):
        await brokerage.buy(investor, "601398", 100, "5.12", wait="filled")
    found = Lists(investor, {})
    for path in LISTS:
        r = await brokerage.http.get(path, params={"limit": 1}, headers=investor.headers)
        assert r.status_code == 200, r.text
        found.cursors[path] = r.json()["next_cursor"]
    return found


@pytest.mark.parametrize("path", LISTS)
async def test_each_list_pages_on_with_its_own_cursor(brokerage: Brokerage, lists: Lists, path: str) -> None:
    headers = lists.investor.headers
    first = (await brokerage.http.get(path, params={"limit": 1}, headers=headers)).json()
    r = await brokerage.http.get(path, params={"limit": 1, "cursor": lists.cursors[path]}, headers=headers)

    assert r.status_code == 200, r.text
    second = r.json()
    assert second["next_cursor"] is None
    every = (await brokerage.http.get(path, headers=headers)).json()["items"]
    assert len(every) == 2
    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in every]


@pytest.mark.parametrize(("path", "issuer"), [(p, i) for p in LISTS for i in LISTS if i != p])
async def test_a_cursor_of_another_list_is_a_400(brokerage: Brokerage, lists: Lists, path: str, issuer: str) -> None:
    r = await brokerage.http.get(path, params={"cursor": lists.cursors[issuer]}, headers=lists.investor.headers)
    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("path", LISTS)
async def test_a_cursor_from_before_lists_were_named_is_a_400(brokerage: Brokerage, lists: Lists, path: str) -> None:
    """The sequence number alone, as these lists wrote it before: refused once, so the
    client starts the list again."""
    named = base64.urlsafe_b64decode(lists.cursors[path] + "==").decode()
    unnamed = base64.urlsafe_b64encode(named.partition("|")[2].encode()).decode().rstrip("=")

    r = await brokerage.http.get(path, params={"cursor": unnamed}, headers=lists.investor.headers)
    assert_problem(r, 400, "invalid-cursor")
