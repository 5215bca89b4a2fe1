"""Accounts' lists (a statement, the AML alerts, the filed reports) each page on only their
own cursor: another list's, a sequence number's or a keyset, is a 400 `invalid-cursor`,
as is one written before cursors named their list."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.accounts.test_compliance import ALERTS, alerts, reviewer
from tests.integration.accounts.test_http_api import assert_problem
from tests.integration.harness import Bank, eventually

pytestmark = pytest.mark.broker

STATEMENT, REPORTS = "statement", "/v1/admin/compliance/reports"
LISTS = [STATEMENT, ALERTS, REPORTS]


@dataclass
class Lists:
    paths: dict[str, str]
    headers: dict[str, dict[str, str]]
    cursors: dict[str, str]  # each list's `next_cursor` after a page of one


@pytest.fixture(scope="module")
async def lists(bank: Bank) -> Lists:
    """A statement of two lines, and two large-value alerts reported: two of each list."""
    staff = reviewer(bank)
    customer, account_id = await bank.funded_account(1_00)
    await bank.fund(account_id, 2_00)
    for _ in range(2):
        payee, _account = await bank.funded_account(50_000_00, kyc_class="II")

        async def raised(customer_id: str = payee.id) -> list[dict[str, Any]]:
            return await alerts(bank, customer_id)

        (alert,) = await eventually(raised, "a large-value alert")
        r = await bank.http.post(f"{ALERTS}/{alert['id']}/review", headers=staff)
        assert r.status_code == 200, r.text
        decision = {"decision": "reported", "note": "a large cash deposit"}
        r = await bank.http.post(f"{ALERTS}/{alert['id']}/decision", json=decision, headers=staff)
        assert r.status_code == 200, r.text
    found = Lists(
        {STATEMENT: f"/v1/accounts/{account_id}/transactions", ALERTS: ALERTS, REPORTS: REPORTS},
        {STATEMENT: customer.headers, ALERTS: staff, REPORTS: staff},
        {},
    )
    for name in LISTS:
        r = await bank.http.get(found.paths[name], params={"limit": 1}, headers=found.headers[name])
        assert r.status_code == 200, r.text
        found.cursors[name] = r.json()["next_cursor"]
    return found


@pytest.mark.parametrize("name", LISTS)
async def test_each_list_pages_on_with_its_own_cursor(bank: Bank, lists: Lists, name: str) -> None:
    path, headers = lists.paths[name], lists.headers[name]
    first = (await bank.http.get(path, params={"limit": 1}, headers=headers)).json()
    r = await bank.http.get(path, params={"limit": 1, "cursor": lists.cursors[name]}, headers=headers)

    assert r.status_code == 200, r.text
    every = (await bank.http.get(path, params={"limit": 200}, headers=headers)).json()["items"]
    assert [i["id"] for i in first["items"] + r.json()["items"]] == [i["id"] for i in every[:2]]


@pytest.mark.parametrize(("name", "issuer"), [(n, i) for n in LISTS for i in LISTS if i != n])
async def test_a_cursor_of_another_list_is_a_400(bank: Bank, lists: Lists, name: str, issuer: str) -> None:
    r = await bank.http.get(lists.paths[name], params={"cursor": lists.cursors[issuer]}, headers=lists.headers[name])
    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("name", LISTS)
async def test_a_cursor_from_before_lists_were_named_is_a_400(bank: Bank, lists: Lists, name: str) -> None:
    """The sequence number or keyset alone, as these lists wrote it before: refused once,
    so the client starts the list again."""
    named = base64.urlsafe_b64decode(lists.cursors[name] + "==").decode()
    unnamed = base64.urlsafe_b64encode(named.partition("|")[2].encode()).decode().rstrip("=")

    r = await bank.http.get(lists.paths[name], params={"cursor": unnamed}, headers=lists.headers[name])
    assert_problem(r, 400, "invalid-cursor")
