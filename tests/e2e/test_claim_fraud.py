"""Claim fraud flags through the gateway, on the side stack (conftest) with every rule on
(the early and frequent claim rules are off by default, at an insurer's usual 30 days and
3 claims in 90 there): a customer sends the
same invoice with a second claim and it is flagged with the first claim's id; one
adjuster's approval does not settle it, a second adjuster's does; a claim soon after the
purchase is flagged; the sandbox magic value forces a flag. The flagged-claims queue is
open to adjusters, operators and compliance, not customers; the customer is not told
which rule flagged them. The ledger balances after each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from shared.sandbox import ADJUSTERS
from tests.e2e.conftest import client_of, operator_login
from tests.e2e.phone import Phone, eventually, register_and_login
from tests.e2e.test_insurance import assert_problem, buy, claim_reaches, funded
from tests.files import pdf, png
from tools.stack import Stack

pytestmark = pytest.mark.e2e

DAY = 86_400


@pytest.fixture(scope="module")
async def gateway(side_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The side stack's gateway: every fraud rule is on there (conftest's EVERY_FRAUD_RULE)."""
    async with client_of(side_stack) as client:
        yield client


@pytest.fixture(scope="module")
async def operator(gateway: httpx.AsyncClient) -> dict[str, str]:
    return await operator_login(gateway)


@pytest.fixture(scope="module")
async def adjusters(gateway: httpx.AsyncClient) -> list[dict[str, str]]:
    headers = []
    for adjuster in ADJUSTERS:
        r = await gateway.post("/v1/auth/login", json={"phone": adjuster.phone, "password": adjuster.password})
        assert r.status_code == 200, r.text
        headers.append({"authorization": f"Bearer {r.json()['access_token']}"})
    return headers


@pytest.fixture
async def customer(gateway: httpx.AsyncClient) -> Phone:
    return await register_and_login(gateway)


@pytest.fixture(autouse=True)
async def ledger_balanced(gateway: httpx.AsyncClient, operator: dict[str, str]) -> AsyncIterator[None]:
    yield
    r = await gateway.get("/v1/admin/ledger/check", headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["ok"], r.json()["violations"]


async def move_clock(gateway: httpx.AsyncClient, operator: dict[str, str], days: int) -> date:
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": days * DAY}, headers=operator)
    assert r.status_code == 200, r.text
    return date.fromisoformat((await gateway.get("/v1/sandbox/clock", headers=operator)).json()["bank_day"])


async def claim(
    phone: Phone,
    policy: dict[str, Any],
    incident: date,
    *,
    invoice: bytes,
    amount: str = "400.00",
    description: str = "",
) -> str:
    """Report an accidental injury, upload its invoice (PDF) and accident photo (PNG), submit it."""
    body = {
        "policy_id": policy["id"],
        "kind": "accidental_injury",
        "amount": amount,
        "incident_date": incident.isoformat(),
        "description": description,
    }
    r = await phone.post("/v1/insurance/claims", json=body)
    assert r.status_code == 201, r.text
    claim_id = str(r.json()["id"])
    photo = png(width=6, height=6, shade=uuid.uuid4().int % 256)
    for kind, name, content, media_type in (
        ("medical_invoice", "invoice.pdf", invoice, "application/pdf"),
        ("accident_report", "scene.png", photo, "image/png"),
    ):
        r = await phone.post(
            f"/v1/insurance/claims/{claim_id}/documents",
            data={"kind": kind},
            files={"file": (name, content, media_type)},
        )
        assert r.status_code == 201, r.text
    r = await phone.post(f"/v1/insurance/claims/{claim_id}/submit")
    assert r.status_code == 200, r.text
    return claim_id


async def as_staff(gateway: httpx.AsyncClient, headers: dict[str, str], claim_id: str) -> dict[str, Any]:
    r = await gateway.get(f"/v1/adjuster/claims/{claim_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def decide(gateway: httpx.AsyncClient, headers: dict[str, str], claim_id: str, **body: Any) -> httpx.Response:
    return await gateway.post(f"/v1/adjuster/claims/{claim_id}/decision", json=body, headers=headers)


async def flagged(gateway: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await gateway.get("/v1/admin/claims/flagged", params={"limit": 200, **params}, headers=headers)


async def test_an_invoice_sent_again_flags_the_second_claim_which_two_adjusters_must_approve(
    gateway: httpx.AsyncClient, customer: Phone, adjusters: list[dict[str, str]], operator: dict[str, str]
) -> None:
    account_id = await funded(customer)
    policy = await buy(customer, account_id)
    start = date.fromisoformat(policy["starts_on"])
    # Past the cover's first 30 days, so only the reused invoice flags anything.
    today = await move_clock(gateway, operator, 32)
    assert today >= start + timedelta(days=32)
    invoice = pdf(f"Clinic invoice {uuid.uuid4().hex[:8]} 400.00")

    first_id = await claim(customer, policy, start + timedelta(days=31), invoice=invoice)
    first = await claim_reaches(customer, first_id, "closed")
    assert first["approvals_required"] == 0 and first["flags"] == []
    second_id = await claim(customer, policy, start + timedelta(days=32), invoice=invoice)

    mine = (await customer.get(f"/v1/insurance/claims/{second_id}")).json()
    assert (mine["status"], mine["approvals_required"], mine["awaiting_adjuster"]) == ("under_assessment", 2, True)
    assert mine["flags"] == [] and mine["fraud_flags"] is None  # the customer is not told why
    assert "shared_document" not in str(mine["history"])
    theirs = await as_staff(gateway, adjusters[0], second_id)
    (flag,) = theirs["fraud_flags"]
    first_invoice = next(d["id"] for d in first["documents"] if d["kind"] == "medical_invoice")
    assert (flag["rule"], flag["forced"], flag["evidence"]) == ("shared_document", False, [first_id, first_invoice])
    assert first_id in flag["reason"]
    assert theirs["flags"] == ["shared_document"]

    # One adjuster's approval does not settle it, nor does the same adjuster's again.
    once = await decide(gateway, adjusters[0], second_id, decision="approve")
    assert once.status_code == 200, once.text
    assert (once.json()["status"], once.json()["approvals"]) == ("under_assessment", [once.json()["approvals"][0]])
    assert_problem(await decide(gateway, adjusters[0], second_id, decision="approve"), 409, "already-decided")
    twice = await decide(gateway, adjusters[1], second_id, decision="approve")
    assert twice.status_code == 200, twice.text
    assert len(twice.json()["approvals"]) == 2
    paid = await claim_reaches(customer, second_id, "closed")
    assert paid["payout_amount_minor"] == 400_00
    assert await customer.balance(account_id) == 1_000_00 - policy["premium_minor"] + 2 * 400_00

    # The queue: adjusters, operators (and compliance) read it; customers may not.
    for reader in (adjusters[1], operator):
        r = await flagged(gateway, reader, rule="shared_document")
        assert r.status_code == 200, r.text
        listed = {c["id"]: c for c in r.json()["items"]}
        assert second_id in listed and first_id not in listed
        assert [f["rule"] for f in listed[second_id]["fraud_flags"]] == ["shared_document"]
    assert_problem(await flagged(gateway, customer.auth), 403, "forbidden")
    assert_problem(await flagged(gateway, adjusters[0], rule="everything"), 422, "validation-error")

    # The flagging is in the audit trail, as the system's own action.
    async def audited() -> list[dict[str, Any]] | None:
        r = await gateway.get(
            "/v1/admin/audit", params={"customer_id": customer.customer_id, "action": "claim.flagged"}, headers=operator
        )
        assert r.status_code == 200, r.text
        return [e for e in r.json()["items"] if e["subject_id"] == second_id] or None

    (entry,) = await eventually(audited)
    assert (entry["service"], entry["actor"]) == ("insurance", "system:insurance")
    assert entry["after"]["flags"][0]["evidence"] == [first_id, first_invoice]


async def test_a_claim_soon_after_the_purchase_is_flagged_and_one_rejection_ends_it(
    gateway: httpx.AsyncClient, customer: Phone, adjusters: list[dict[str, str]]
) -> None:
    account_id = await funded(customer)
    policy = await buy(customer, account_id)

    claim_id = await claim(customer, policy, date.fromisoformat(policy["starts_on"]), invoice=pdf(uuid.uuid4().hex))

    staff = await as_staff(gateway, adjusters[0], claim_id)
    assert (staff["status"], staff["approvals_required"]) == ("under_assessment", 2)  # 400.00: automatic otherwise
    (flag,) = staff["fraud_flags"]
    assert (flag["rule"], flag["evidence"], flag["forced"]) == ("early_claim", [], False)
    assert f"is on day 0 of cover (from {policy['starts_on']})" in flag["reason"]
    r = await decide(gateway, adjusters[1], claim_id, decision="reject", reason="The accident predates the policy")
    assert r.status_code == 200, r.text
    rejected = await claim_reaches(customer, claim_id, "rejected")
    assert rejected["payout"] is None
    assert await customer.balance(account_id) == 1_000_00 - policy["premium_minor"]


async def test_the_magic_description_forces_the_flag_it_names(
    gateway: httpx.AsyncClient, customer: Phone, adjusters: list[dict[str, str]], operator: dict[str, str]
) -> None:
    account_id = await funded(customer)
    policy = await buy(customer, account_id)
    await move_clock(gateway, operator, 31)
    incident = date.fromisoformat(policy["starts_on"]) + timedelta(days=31)

    claim_id = await claim(
        customer,
        policy,
        incident,
        invoice=pdf(uuid.uuid4().hex),
        amount="120.00",
        description="Sprained ankle #sandbox-flag:frequent_claims",
    )

    staff = await as_staff(gateway, adjusters[0], claim_id)
    assert (staff["status"], staff["approvals_required"]) == ("under_assessment", 2)
    assert [(f["rule"], f["forced"], f["evidence"]) for f in staff["fraud_flags"]] == [("frequent_claims", True, [])]
    r = await flagged(gateway, operator, rule="frequent_claims", awaiting_adjuster="true")
    assert claim_id in {c["id"] for c in r.json()["items"]}
    for adjuster in adjusters:
        assert (await decide(gateway, adjuster, claim_id, decision="approve")).status_code == 200
    closed = await claim_reaches(customer, claim_id, "closed")
    assert closed["payout_amount_minor"] == 120_00
    assert await customer.balance(account_id) == 1_000_00 - policy["premium_minor"] + 120_00
