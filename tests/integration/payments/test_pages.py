"""Payments' three lists (payments, saved payees, schedules) page alike through
shared/pagination.py's one dependency: 20 at a time, at most 100, and the same problem for
a bad limit (422) or a cursor that list did not issue (400), another list's included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from shared.clock import Clock
from shared.pagination import encode_seq
from tests.integration.payments.harness import Payer, Payments
from tests.integration.payments.test_requests import assert_problem

pytestmark = pytest.mark.broker

LISTS = ["/v1/payments", "/v1/payees", "/v1/payments/schedules"]


@dataclass
class Lists:
    payer: Payer
    cursors: dict[str, str]  # each list's `next_cursor` after a page of one


@pytest.fixture(scope="module")
async def lists(payments: Payments) -> AsyncIterator[Lists]:
    """A customer with two of everything: payments, saved payees, standing orders (far
    enough ahead that no test's clock reaches them; cancelled after)."""
    payer = await payments.customer(10_00)
    for _ in range(2):
        paid = await payments.start("topups", payer, {"phone": "13912345678", "amount": "1.00"})
        await payments.settled(payer, paid["id"])
    for nickname in ("Mum", "Dad"):
        payee = await payments.customer()
        saved = {"nickname": nickname, "account_id": payee.account_id}
        r = await payments.http.post("/v1/payees", json=saved, headers=payer.headers)
        assert r.status_code == 201, r.text
    clock: Clock = payments.app.state.ctx.clock
    schedules = []
    for _ in range(2):
        body = {
            "payer_account_id": payer.account_id,
            "payee_account_id": payee.account_id,
            "amount": "1.00",
            "first_run_on": str(clock.bank_day() + timedelta(days=3000)),
            "repeat": "monthly",
        }
        headers = {**payer.headers, "Idempotency-Key": str(uuid.uuid4())}
        r = await payments.http.post("/v1/payments/schedules", json=body, headers=headers)
        assert r.status_code == 201, r.text
        schedules.append(r.json()["id"])
    cursors = {}
    for path in LISTS:
        r = await payments.http.get(path, params={"limit": 1}, headers=payer.headers)
        assert r.status_code == 200, r.text
        cursors[path] = r.json()["next_cursor"]
    yield Lists(payer, cursors)
    for schedule_id in schedules:
        await payments.http.delete(f"/v1/payments/schedules/{schedule_id}", headers=payer.headers)


@pytest.mark.parametrize("path", LISTS)
async def test_each_list_pages_on_with_its_own_cursor(payments: Payments, lists: Lists, path: str) -> None:
    headers = lists.payer.headers
    first = (await payments.http.get(path, params={"limit": 1}, headers=headers)).json()
    r = await payments.http.get(path, params={"limit": 1, "cursor": lists.cursors[path]}, headers=headers)

    assert r.status_code == 200, r.text
    second = r.json()
    assert len(first["items"]) == len(second["items"]) == 1
    assert first["items"][0]["id"] != second["items"][0]["id"]
    assert second["next_cursor"] is None
    every = (await payments.http.get(path, headers=headers)).json()["items"]
    assert [i["id"] for i in every] == [first["items"][0]["id"], second["items"][0]["id"]]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "-1", "101", "99999999999999999999", "ten"])
async def test_a_limit_out_of_bounds_is_a_422_on_every_list(
    payments: Payments, lists: Lists, path: str, limit: str
) -> None:
    r = await payments.http.get(path, params={"limit": limit}, headers=lists.payer.headers)
    assert_problem(r, 422, "validation-error")


@pytest.mark.parametrize(("path", "issuer"), [(p, i) for p in LISTS for i in LISTS if i != p])
async def test_a_cursor_of_another_list_is_a_400(payments: Payments, lists: Lists, path: str, issuer: str) -> None:
    r = await payments.http.get(path, params={"cursor": lists.cursors[issuer]}, headers=lists.payer.headers)
    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "cursor",
    [encode_seq(5, of="orders"), encode_seq(7, of="notifications"), "7", "", "!!!"],
    ids=["an order's", "a notification's", "a plain number", "empty", "not base64"],
)
async def test_a_cursor_no_list_here_issued_is_a_400(payments: Payments, lists: Lists, path: str, cursor: str) -> None:
    r = await payments.http.get(path, params={"cursor": cursor}, headers=lists.payer.headers)
    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("path", LISTS)
async def test_an_over_long_cursor_is_a_422(payments: Payments, lists: Lists, path: str) -> None:
    r = await payments.http.get(path, params={"cursor": "A" * 201}, headers=lists.payer.headers)
    assert_problem(r, 422, "validation-error")
