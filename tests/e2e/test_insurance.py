"""Mobile insurance through the gateway of a running stack: buy a policy from a quote,
claim on it, and watch the claim follow the SOP to a payout (or a rejection), with the
seeded adjusters deciding what the rules leave to people."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pytest

from shared.sandbox import ADJUSTERS
from tests.e2e.phone import Phone, eventually, register_and_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

DOCUMENTS = {
    "accidental_injury": ("accident_report", "medical_invoice"),
    "accidental_disability": ("accident_report", "disability_assessment"),
    "outpatient": ("medical_invoice",),
}


def assert_problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + slug), body
    assert body["detail"] and "Traceback" not in r.text
    return body


@pytest.fixture(scope="module")
async def adjusters(gateway: httpx.AsyncClient) -> list[dict[str, str]]:
    """The seeded adjusters, logged in."""
    headers = []
    for adjuster in ADJUSTERS:
        r = await gateway.post("/v1/auth/login", json={"phone": adjuster.phone, "password": adjuster.password})
        assert r.status_code == 200, r.text
        headers.append({"authorization": f"Bearer {r.json()['access_token']}"})
    return headers


async def funded(phone: Phone, amount: str = "1000.00") -> str:
    account = await phone.open_account("checking")
    await phone.settled((await phone.deposit(account["id"], amount))["id"])
    return str(account["id"])


async def buy(phone: Phone, account_id: str, product: str = "personal_accident", **quote: Any) -> dict[str, Any]:
    body = {"product_code": product, "age": 30, "term_days": 365, "sum_insured": "100000.00"} | quote
    r = await phone.post("/v1/insurance/quotes", json=body)
    assert r.status_code == 201, r.text
    r = await phone.post(
        "/v1/insurance/policies",
        json={"quote_id": r.json()["id"], "account_id": account_id},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text
    return await settled_policy(phone, r.json()["id"])


async def settled_policy(phone: Phone, policy_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        policy: dict[str, Any] = (await phone.get(f"/v1/insurance/policies/{policy_id}")).json()
        return policy if policy["status"] != "pending" else None

    return await eventually(probe)  # type: ignore[no-any-return]


async def reported(phone: Phone, policy: dict[str, Any], kind: str, amount: str) -> str:
    """Report a claim about the policy's first day and add its documents; its id."""
    r = await phone.post(
        "/v1/insurance/claims",
        json={"policy_id": policy["id"], "kind": kind, "amount": amount, "incident_date": policy["starts_on"]},
    )
    assert r.status_code == 201, r.text
    claim_id: str = r.json()["id"]
    for doc in DOCUMENTS[kind]:
        digest = hashlib.sha256(f"{claim_id}/{doc}".encode()).hexdigest()
        r = await phone.post(
            f"/v1/insurance/claims/{claim_id}/documents",
            json={"kind": doc, "name": f"{doc}.jpg", "size_bytes": 182_004, "checksum": digest},
        )
        assert r.status_code == 201, r.text
    return claim_id


async def file(phone: Phone, policy: dict[str, Any], kind: str, amount: str) -> dict[str, Any]:
    """Report a claim about the policy's first day, add its documents, submit it."""
    claim_id = await reported(phone, policy, kind, amount)
    r = await phone.post(f"/v1/insurance/claims/{claim_id}/submit")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def claim_reaches(phone: Phone, claim_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        claim: dict[str, Any] = (await phone.get(f"/v1/insurance/claims/{claim_id}")).json()
        return claim if claim["status"] == status else None

    return await eventually(probe)  # type: ignore[no-any-return]


async def test_quote_buy_claim_and_get_paid_automatically(customer: Phone) -> None:
    account_id = await funded(customer)
    products = (await customer.client.get("/v1/insurance/products")).json()["items"]
    assert {p["code"] for p in products} >= {"personal_accident", "short_term_health", "travel", "phone_screen"}
    r = await customer.post(
        "/v1/insurance/quotes",
        json={"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"},
    )
    quote = r.json()
    assert (r.status_code, quote["premium"]) == (201, "60.00")
    key = str(uuid.uuid4())
    body = {"quote_id": quote["id"], "account_id": account_id}

    first = await customer.post("/v1/insurance/policies", json=body, headers={"Idempotency-Key": key})
    replay = await customer.post("/v1/insurance/policies", json=body, headers={"Idempotency-Key": key})

    assert first.status_code == replay.status_code == 202, first.text
    assert replay.headers["idempotent-replayed"] == "true" and replay.json()["id"] == first.json()["id"]
    policy = await settled_policy(customer, first.json()["id"])
    assert policy["status"] == "active"
    assert [h["action"] for h in policy["history"]] == ["purchase_requested", "premium_reserved", "issued"]
    assert await customer.balance(account_id) == 1_000_00 - 60_00

    claim = await file(customer, policy, "accidental_injury", "500.00")

    assert claim["status"] == "approved"
    closed = await claim_reaches(customer, claim["id"], "closed")
    assert [h["action"] for h in closed["history"]][-4:] == ["assessment_started", "approved", "paid", "closed"]
    assert all(h["at"] and h["actor_id"] and h["event_id"] for h in closed["history"])
    assert await customer.balance(account_id) == 1_000_00 - 60_00 + 500_00
    statement = (await customer.get(f"/v1/accounts/{account_id}/transactions")).json()["items"]
    assert (statement[0]["amount"], statement[0]["counterparty_account_id"]) == ("500.00", "internal:insurance-claims")
    assert (statement[1]["amount"], statement[1]["counterparty_account_id"]) == ("60.00", "internal:insurance-premiums")


async def test_a_large_claim_is_paid_after_two_different_adjusters_approve(
    customer: Phone, adjusters: list[dict[str, str]]
) -> None:
    first, second = adjusters
    account_id = await funded(customer)
    policy = await buy(customer, account_id)

    claim = await file(customer, policy, "accidental_disability", "20000.00")

    assert (claim["status"], claim["approvals_required"]) == ("under_assessment", 2)
    queue = await customer.client.get(
        "/v1/adjuster/claims", params={"status": "under_assessment", "limit": 200}, headers=first
    )
    assert claim["id"] in [c["id"] for c in queue.json()["items"]]
    assert_problem(await customer.get("/v1/adjuster/claims"), 403, "forbidden")
    decision = f"/v1/adjuster/claims/{claim['id']}/decision"
    assert_problem(await customer.post(decision, json={"decision": "approve"}), 403, "forbidden")

    one = await customer.client.post(decision, json={"decision": "approve"}, headers=first)
    assert one.status_code == 200 and one.json()["status"] == "under_assessment"
    assert_problem(
        await customer.client.post(decision, json={"decision": "approve"}, headers=first), 409, "already-decided"
    )
    assert await customer.balance(account_id) == 1_000_00 - 60_00
    two = await customer.client.post(decision, json={"decision": "approve"}, headers=second)
    assert two.status_code == 200, two.text

    closed = await claim_reaches(customer, claim["id"], "closed")
    assert closed["approvals"] == [ADJUSTERS[0].id, ADJUSTERS[1].id]
    approved = next(h for h in closed["history"] if h["action"] == "approved")
    assert (approved["actor_id"], approved["actor_role"]) == (ADJUSTERS[1].id, "adjuster")
    assert await customer.balance(account_id) == 1_000_00 - 60_00 + 20_000_00


async def test_a_claim_in_the_waiting_period_is_rejected_with_the_reason(
    customer: Phone, adjusters: list[dict[str, str]]
) -> None:
    account_id = await funded(customer)
    policy = await buy(customer, account_id, "short_term_health", sum_insured="100000.00")
    assert policy["covered_from"] > policy["starts_on"]

    claim = await file(customer, policy, "outpatient", "300.00")

    assert (claim["status"], claim["rejection_reason"]) == ("rejected", "waiting_period")
    assert claim["history"][-1]["action"] == "rejected"
    r = await customer.client.post(
        f"/v1/adjuster/claims/{claim['id']}/decision", json={"decision": "approve"}, headers=adjusters[0]
    )
    assert_problem(r, 409, "invalid-transition")
    assert await customer.balance(account_id) == 1_000_00 - policy["premium_minor"]


async def test_bad_insurance_input_is_refused_and_changes_nothing(
    customer: Phone, gateway: httpx.AsyncClient, adjusters: list[dict[str, str]]
) -> None:
    account_id = await funded(customer)
    other = await register_and_login(gateway, name="Someone Else")
    their_account = await funded(other, "100.00")
    their_policy = await buy(other, their_account, sum_insured="10000.00")
    quote = {"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"}

    assert_problem(await customer.post("/v1/insurance/quotes", json=quote | {"product_code": "pets"}), 404, "not-found")
    assert_problem(await customer.post("/v1/insurance/quotes", json=quote | {"age": 70}), 422, "age-out-of-range")
    quote_id = (await customer.post("/v1/insurance/quotes", json=quote)).json()["id"]
    buy_with = {"quote_id": quote_id, "account_id": their_account}
    assert_problem(await customer.post("/v1/insurance/policies", json=buy_with), 400, "idempotency-key-missing")
    r = await customer.post("/v1/insurance/policies", json=buy_with, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert_problem(r, 404, "not-found")
    claim = {"policy_id": their_policy["id"], "kind": "accidental_injury", "amount": "10.00"}
    r = await customer.post("/v1/insurance/claims", json=claim | {"incident_date": their_policy["starts_on"]})
    assert_problem(r, 404, "not-found")
    policy = await buy(customer, account_id)
    claim = {"policy_id": policy["id"], "kind": "accidental_injury", "incident_date": policy["starts_on"]}
    assert_problem(
        await customer.post("/v1/insurance/claims", json=claim | {"amount": "100000.01"}), 422, "above-sum-insured"
    )
    reported = (await customer.post("/v1/insurance/claims", json=claim | {"amount": "10.00"})).json()
    r = await customer.client.post(
        f"/v1/adjuster/claims/{reported['id']}/decision", json={"decision": "approve"}, headers=adjusters[0]
    )
    assert_problem(r, 409, "invalid-transition")

    mine = (await customer.get("/v1/insurance/policies")).json()["items"]
    assert [p["id"] for p in mine] == [policy["id"]]
    claims = (await customer.get("/v1/insurance/claims")).json()["items"]
    assert [(c["id"], c["status"]) for c in claims] == [(reported["id"], "reported")]
    assert (await other.get("/v1/insurance/claims")).json()["items"] == []
    assert await customer.balance(account_id) == 1_000_00 - 60_00
    assert await other.balance(their_account) == 100_00 - 6_00
