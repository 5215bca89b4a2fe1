"""Insurance's four lists (the customer's policies and claims, the adjusters' claim queue,
the flagged claims) each page on only their own cursor: another list's, though a valid
cursor of the same service (two of them over the same claims table), is a 400
`invalid-cursor`, as is one written before cursors named their list."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest

from tests.integration.insurance.harness import Insured, Insurer, checksum
from tests.integration.payments.test_requests import assert_problem

pytestmark = pytest.mark.broker

CUSTOMER_LISTS = ["/v1/insurance/policies", "/v1/insurance/claims"]
STAFF_LISTS = ["/v1/adjuster/claims", "/v1/admin/claims/flagged"]
LISTS = CUSTOMER_LISTS + STAFF_LISTS


@dataclass
class Lists:
    who: Insured
    staff: dict[str, str]
    cursors: dict[str, str]  # each list's `next_cursor` after a page of one

    def headers(self, path: str) -> dict[str, str]:
        return self.who.headers if path in CUSTOMER_LISTS else self.staff


@pytest.fixture(scope="module")
async def lists(insurer: Insurer) -> Lists:
    """A customer with two policies and a claim on each, both flagged: each carries a
    document whose checksum another customer's claim has already shown."""
    who, other = await insurer.customer(1_000_00), await insurer.customer(1_000_00)
    digest = checksum()
    earlier = (await insurer.report(other, await insurer.active_policy(other), "accidental_injury", "20.00")).json()
    assert (await insurer.add_document(other, earlier["id"], "medical_invoice", digest)).status_code == 201
    for _ in range(2):
        claim = (await insurer.report(who, await insurer.active_policy(who), "accidental_injury", "20.00")).json()
        assert (await insurer.add_document(who, claim["id"], "medical_invoice", digest)).status_code == 201
        assert (await insurer.add_document(who, claim["id"], "accident_report")).status_code == 201
        submitted = (await insurer.submit(who, claim["id"])).json()
        assert submitted["approvals_required"] == 2, submitted
    found = Lists(who, insurer.adjuster(), {})
    for path in LISTS:
        r = await insurer.http.get(path, params={"limit": 1}, headers=found.headers(path))
        assert r.status_code == 200, r.text
        found.cursors[path] = r.json()["next_cursor"]
    return found


@pytest.mark.parametrize("path", LISTS)
async def test_each_list_pages_on_with_its_own_cursor(insurer: Insurer, lists: Lists, path: str) -> None:
    headers = lists.headers(path)
    first = (await insurer.http.get(path, params={"limit": 1}, headers=headers)).json()
    r = await insurer.http.get(path, params={"limit": 1, "cursor": lists.cursors[path]}, headers=headers)

    assert r.status_code == 200, r.text
    second = r.json()
    every = (await insurer.http.get(path, params={"limit": 200}, headers=headers)).json()["items"]
    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in every[:2]]


@pytest.mark.parametrize(("path", "issuer"), [(p, i) for p in LISTS for i in LISTS if i != p])
async def test_a_cursor_of_another_list_is_a_400(insurer: Insurer, lists: Lists, path: str, issuer: str) -> None:
    r = await insurer.http.get(path, params={"cursor": lists.cursors[issuer]}, headers=lists.headers(path))
    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("path", LISTS)
async def test_a_cursor_from_before_lists_were_named_is_a_400(insurer: Insurer, lists: Lists, path: str) -> None:
    """The keyset alone, as every insurance list wrote it before: refused once, so the
    client starts the list again."""
    named = base64.urlsafe_b64decode(lists.cursors[path] + "==").decode()
    unnamed = base64.urlsafe_b64encode(named.partition("|")[2].encode()).decode().rstrip("=")

    r = await insurer.http.get(path, params={"cursor": unnamed}, headers=lists.headers(path))
    assert_problem(r, 400, "invalid-cursor")
