"""KYC upgrades on the accounts app with its real database: one resident ID number vouches
for one customer, and a legal name other than the registered one waits for an officer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.accounts.kyc_rules import check_character
from tests.integration.harness import Bank, Customer, _bearer

pytestmark = pytest.mark.broker

UPGRADE = "/v1/me/kyc/upgrade"
QUEUE = "/v1/admin/kyc/applications"


def new_id_number() -> str:
    """A valid GB 11643 number no other test uses: a random birth day and sequence."""
    entropy = uuid.uuid4().int
    born = date(1950, 1, 1) + timedelta(days=entropy % 18_000)
    first17 = f"110105{born:%Y%m%d}{entropy // 18_000 % 1000:03d}"
    return first17 + check_character(first17)


def officer(bank: Bank) -> dict[str, str]:
    return _bearer(bank.tokens.issue("compliance-tests", ["compliance"]))


async def apply(bank: Bank, customer: Customer, legal_name: str, id_number: str, score: float = 0.97) -> httpx.Response:
    body = {"legal_name": legal_name, "id_number": id_number, "face_match_score": score}
    return await bank.http.post(UPGRADE, json=body, headers=customer.headers)


async def kyc_of(bank: Bank, customer: Customer) -> dict[str, Any]:
    r = await bank.http.get("/v1/me/kyc", headers=customer.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def applications_of(bank: Bank, customer: Customer) -> list[dict[str, Any]]:
    r = await bank.http.get(QUEUE, headers=officer(bank))
    assert r.status_code == 200, r.text
    return [a for a in r.json()["items"] if a["customer_id"] == customer.id]


async def decide(bank: Bank, application_id: str, decision: str) -> httpx.Response:
    body = {"decision": decision, "reason": "checked in branch"}
    return await bank.http.post(f"{QUEUE}/{application_id}/decision", json=body, headers=officer(bank))


def assert_id_number_in_use(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "https://sandbank.dev/problems/id-number-in-use"


async def test_an_id_number_that_lifted_one_customer_is_refused_to_another_and_changes_nothing(bank: Bank) -> None:
    number = new_id_number()
    first = await bank.new_customer("II", name="Wang Fang")
    second = await bank.new_customer("II", name="Qian Victim")
    r = await apply(bank, first, "Wang Fang", number)
    assert (r.status_code, r.json()["status"]) == (201, "approved"), r.text

    refused = await apply(bank, second, "Qian Victim", number)

    assert_id_number_in_use(refused)
    shown = await kyc_of(bank, second)
    assert (shown["kyc_class"], shown["application"]) == ("II", None)
    assert await applications_of(bank, second) == []
    assert (await kyc_of(bank, first))["kyc_class"] == "I"


async def test_the_number_typed_differently_is_still_the_same_number(bank: Bank) -> None:
    number = new_id_number()
    first, second = await bank.new_customer("II"), await bank.new_customer("II")
    assert (await apply(bank, first, "Test Customer", number)).json()["status"] == "approved"

    assert_id_number_in_use(await apply(bank, second, "Test Customer", f"  {number.lower()} "))


async def test_the_same_customer_may_apply_again_with_its_own_number(bank: Bank) -> None:
    number = new_id_number()
    customer = await bank.new_customer("II", name="Sun Li")
    waiting = await apply(bank, customer, "Sun Li", number, score=0.5)
    assert (waiting.status_code, waiting.json()["status"]) == (201, "pending"), waiting.text
    assert (await decide(bank, waiting.json()["id"], "refuse")).status_code == 200

    again = await apply(bank, customer, "Sun Li", number)

    assert (again.status_code, again.json()["status"]) == (201, "approved"), again.text
    assert (await kyc_of(bank, customer))["kyc_class"] == "I"


async def test_an_officer_cannot_approve_a_number_that_meanwhile_lifted_another_customer(bank: Bank) -> None:
    number = new_id_number()
    waiting_customer, approved_customer = await bank.new_customer("II"), await bank.new_customer("II")
    waiting = await apply(bank, waiting_customer, "Test Customer", number, score=0.5)
    assert waiting.json()["status"] == "pending", waiting.text
    assert (await apply(bank, approved_customer, "Test Customer", number)).json()["status"] == "approved"

    assert_id_number_in_use(await decide(bank, waiting.json()["id"], "approve"))

    [still] = await applications_of(bank, waiting_customer)
    assert still["status"] == "pending"
    assert (await kyc_of(bank, waiting_customer))["kyc_class"] == "II"
    assert (await decide(bank, waiting.json()["id"], "refuse")).status_code == 200


async def test_two_customers_applying_at_once_with_one_number_lift_only_one(bank: Bank) -> None:
    number = new_id_number()
    customers = [await bank.new_customer("II") for _ in range(2)]

    answers = await asyncio.gather(*(apply(bank, c, "Test Customer", number) for c in customers))

    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    classes = [(await kyc_of(bank, c))["kyc_class"] for c in customers]
    assert sorted(classes) == ["I", "II"]


async def test_a_legal_name_other_than_the_registered_name_waits_for_an_officer(bank: Bank) -> None:
    customer = await bank.new_customer("II", name="Zhao Attacker")

    r = await apply(bank, customer, "Wang Fang", new_id_number(), score=0.97)

    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["reason"], r.json()["decided_by"]) == ("pending", "legal_name_mismatch", None)
    assert (await kyc_of(bank, customer))["kyc_class"] == "II"
    queue = await bank.http.get(QUEUE, params={"status": "pending"}, headers=officer(bank))
    assert r.json()["id"] in [a["id"] for a in queue.json()["items"]]


async def test_a_legal_name_in_another_case_spacing_or_width_is_the_registered_name(bank: Bank) -> None:
    customer = await bank.new_customer("II", name="Wang Fang")

    r = await apply(bank, customer, "\uff37\uff21\uff2e\uff27\u3000fang", new_id_number())

    assert (r.status_code, r.json()["status"]) == (201, "approved"), r.text
