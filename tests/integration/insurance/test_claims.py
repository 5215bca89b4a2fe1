"""Claims along the SOP: automatic approval and payout, the four-eyes path, rejections by
rule and by adjuster, and bad input that changes nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.integration.insurance.harness import CLAIMS, Insurer, actions, types

pytestmark = pytest.mark.broker

ADJUSTER_1, ADJUSTER_2 = "adjuster-one", "adjuster-two"


async def test_a_small_claim_is_approved_automatically_paid_and_closed(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    claims_before = await insurer.balance(CLAIMS)

    submitted = await insurer.file(who, policy, "accidental_injury", "500.00", description="Sprained an ankle")

    assert submitted["status"] == "approved"
    assert submitted["approvals_required"] == 0 and not submitted["awaiting_adjuster"]
    claim = await insurer.claim_reaches(who, submitted["id"], "closed")
    assert actions(claim) == [
        "reported",
        "document_submitted",
        "document_submitted",
        "assessment_started",
        "approved",
        "paid",
        "closed",
    ]
    assert [(h["from_status"], h["to_status"]) for h in claim["history"]] == [
        (None, "reported"),
        ("reported", "documents_submitted"),
        ("documents_submitted", "documents_submitted"),
        ("documents_submitted", "under_assessment"),
        ("under_assessment", "approved"),
        ("approved", "paid"),
        ("paid", "closed"),
    ]
    assert [h["actor_id"] for h in claim["history"]] == [who.id] * 4 + ["system", "accounts", "system"]
    assert claim["payout"]["step"] == "done" and claim["payout"]["entry_id"]
    assert [d["kind"] for d in claim["documents"]] == ["accident_report", "medical_invoice"]
    assert await insurer.balance(who.account_id) == 1_000_00 - 60_00 + 500_00
    assert await insurer.balance(CLAIMS) == claims_before - 500_00
    policy = await insurer.policy(who, policy["id"])
    assert policy["remaining_sum_insured"] == "99500.00"

    story = await insurer.story(claim["id"], "insurance.ClaimClosed")
    assert types(story) == [
        "ClaimReported",
        "ClaimDocumentSubmitted",
        "ClaimDocumentSubmitted",
        "ClaimAssessmentStarted",
        "ClaimApproved",
        "ClaimPaid",
        "ClaimClosed",
    ]
    assert [e.id for e in story] == [h["event_id"] for h in claim["history"]]
    assert story[4].data["automatic"] is True and story[4].data["credit_id"] == claim["payout"]["id"]
    statement = await insurer.bank.statement(who.account_id)
    assert statement[0]["counterparty_account_id"] == CLAIMS and statement[0]["amount_minor"] == 500_00
    assert (statement[0]["kind"], statement[0]["reference_kind"], statement[0]["reference_id"]) == (
        "insurance_claim_payout",
        "claim",
        claim["id"],
    )
    assert (statement[1]["kind"], statement[1]["reference_kind"]) == ("insurance_premium", "policy")


async def test_a_large_claim_needs_two_different_adjusters(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    first, second = insurer.adjuster(ADJUSTER_1), insurer.adjuster(ADJUSTER_2)

    submitted = await insurer.file(who, policy, "accidental_disability", "20000.00")

    assert (submitted["status"], submitted["approvals_required"], submitted["awaiting_adjuster"]) == (
        "under_assessment",
        2,
        True,
    )
    queue = await insurer.http.get("/v1/adjuster/claims", params={"status": "under_assessment"}, headers=first)
    assert submitted["id"] in [c["id"] for c in queue.json()["items"]]
    assert (await insurer.http.get("/v1/adjuster/claims", headers=who.headers)).status_code == 403
    assert (await insurer.decide(who.headers, submitted["id"], "approve")).status_code == 403

    one = await insurer.decide(first, submitted["id"], "approve")
    assert one.status_code == 200, one.text
    assert (one.json()["status"], one.json()["approvals"]) == ("under_assessment", [ADJUSTER_1])
    twice = await insurer.decide(first, submitted["id"], "approve")
    assert twice.status_code == 409 and twice.json()["type"].endswith("/already-decided")
    balance_before = await insurer.balance(who.account_id)
    assert balance_before == 1_000_00 - 60_00

    two = await insurer.decide(second, submitted["id"], "approve")

    assert two.status_code == 200, two.text
    assert two.json()["status"] in ("approved", "paid", "closed")
    claim = await insurer.claim_reaches(who, submitted["id"], "closed")
    assert claim["approvals"] == [ADJUSTER_1, ADJUSTER_2]
    assert actions(claim)[-5:] == ["referred_to_adjuster", "approval_recorded", "approved", "paid", "closed"]
    approved = next(h for h in claim["history"] if h["action"] == "approved")
    assert (approved["actor_id"], approved["actor_role"]) == (ADJUSTER_2, "adjuster")
    assert approved["detail"]["approved_by"] == [ADJUSTER_1, ADJUSTER_2]
    assert await insurer.balance(who.account_id) == balance_before + 20_000_00
    late = await insurer.decide(insurer.adjuster(), submitted["id"], "approve")
    assert late.status_code == 409 and late.json()["type"].endswith("/invalid-transition")


async def test_an_adjuster_never_decides_on_their_own_claim(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    submitted = await insurer.file(who, policy, "accidental_injury", "5000.00")
    assert submitted["approvals_required"] == 1
    # The same person holding both roles (a staff member insured with us).
    both = insurer.adjuster(who.id, roles=("customer", "adjuster"))

    r = await insurer.decide(both, submitted["id"], "approve")

    assert r.status_code == 403 and r.json()["type"].endswith("/own-claim")
    claim = await insurer.claim(who, submitted["id"])
    assert claim["status"] == "under_assessment" and claim["decisions"] == []
    assert (await insurer.decide(insurer.adjuster(), submitted["id"], "approve")).status_code == 200
    await insurer.claim_reaches(who, submitted["id"], "closed")


async def test_a_claim_in_the_waiting_period_is_rejected_and_nothing_is_paid(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who, "short_term_health", term_days=365, sum_insured="100000.00")
    assert policy["covered_from"] == (date.fromisoformat(policy["starts_on"]) + timedelta(days=30)).isoformat()
    balance = await insurer.balance(who.account_id)

    claim = await insurer.file(who, policy, "outpatient", "300.00")

    assert claim["status"] == "rejected"
    assert claim["rejection_reason"] == "waiting_period" and "waiting period" in claim["rejection_detail"]
    rejected = claim["history"][-1]
    assert (rejected["action"], rejected["actor_id"], rejected["to_status"]) == ("rejected", "system", "rejected")
    assert claim["payout"] is None
    story = await insurer.story(claim["id"], "insurance.ClaimRejected")
    assert story[-1].data["reason"] == "waiting_period"
    r = await insurer.decide(insurer.adjuster(), claim["id"], "approve")
    assert r.status_code == 409 and r.json()["type"].endswith("/invalid-transition")
    assert await insurer.balance(who.account_id) == balance


async def test_after_the_waiting_period_the_same_claim_is_paid(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who, "short_term_health", term_days=365, sum_insured="100000.00")
    insurer.ctx.clock.advance(timedelta(days=31))

    claim = await insurer.file(
        who, policy, "outpatient", "300.00", incident_date=(date.fromisoformat(policy["covered_from"])).isoformat()
    )

    assert claim["status"] == "approved", claim["rejection_detail"]
    await insurer.claim_reaches(who, claim["id"], "closed")


async def test_the_magic_amount_waits_for_an_adjuster_who_may_reject_it(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    claim = await insurer.file(who, policy, "accidental_injury", "888.88")
    assert (claim["status"], claim["approvals_required"], claim["flags"]) == ("under_assessment", 1, ["sandbox_review"])
    adjuster = insurer.adjuster(ADJUSTER_1)

    no_reason = await insurer.decide(adjuster, claim["id"], "reject")
    assert no_reason.status_code == 422 and no_reason.json()["type"].endswith("/reason-required")
    r = await insurer.decide(adjuster, claim["id"], "reject", "the invoice is for a different patient")

    assert r.status_code == 200
    rejected = r.json()
    assert rejected["status"] == "rejected"
    assert (rejected["rejection_reason"], rejected["rejection_detail"]) == (
        "rejected_by_adjuster",
        "the invoice is for a different patient",
    )
    assert rejected["history"][-1]["actor_id"] == ADJUSTER_1
    assert await insurer.balance(who.account_id) == 1_000_00 - 60_00


async def test_a_second_claim_for_the_same_incident_is_rejected_as_a_duplicate(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    first = await insurer.file(who, policy, "accidental_injury", "100.00")
    assert first["status"] == "approved"

    second = await insurer.file(who, policy, "accidental_injury", "120.00")

    assert (second["status"], second["rejection_reason"]) == ("rejected", "duplicate_claim")
    await insurer.claim_reaches(who, first["id"], "closed")
    assert await insurer.balance(who.account_id) == 1_000_00 - 60_00 + 100_00


async def test_a_claim_beyond_what_is_left_of_the_sum_insured_is_rejected(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who, sum_insured="10000.00")  # premium 6.00
    first = await insurer.file(who, policy, "accidental_injury", "900.00")
    await insurer.claim_reaches(who, first["id"], "closed")

    second = await insurer.file(who, policy, "accidental_disability", "9500.00")

    assert (second["status"], second["rejection_reason"]) == ("rejected", "exceeds_remaining_sum_insured")
    assert (await insurer.policy(who, policy["id"]))["remaining_sum_insured"] == "9100.00"


async def test_a_claim_with_missing_documents_is_rejected_with_the_list(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    claim = await insurer.file(who, policy, "accidental_injury", "100.00", documents=("accident_report",))
    assert (claim["status"], claim["rejection_reason"]) == ("rejected", "missing_documents")
    assert "medical_invoice" in claim["rejection_detail"]


async def test_an_excluded_cause_is_rejected(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    claim = await insurer.file(who, policy, "accidental_injury", "100.00", cause="extreme_sports")
    assert (claim["status"], claim["rejection_reason"]) == ("rejected", "excluded_cause")


async def test_a_payout_can_go_to_another_of_the_customers_accounts(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    savings = await insurer.bank.open_account(who.customer, "savings")
    policy = await insurer.active_policy(who)
    claim = await insurer.file(who, policy, "accidental_injury", "42.00", payout_account_id=savings)
    await insurer.claim_reaches(who, claim["id"], "closed")
    assert await insurer.balance(savings) == 42_00


@pytest.mark.parametrize(
    ("change", "status", "slug"),
    [
        ({"amount": "100000.01"}, 422, "above-sum-insured"),
        ({"kind": "screen_damage"}, 422, "claim-kind-not-covered"),
        ({"incident_date": "2999-01-01"}, 422, "incident-in-future"),
        ({"amount": "0.00"}, 422, "invalid-amount"),
        ({"cause": "Not A Code"}, 422, "validation-error"),
        ({"payout_account_id": "internal:insurance-claims"}, 404, "not-found"),
        ({"policy_id": "someone-elses"}, 404, "not-found"),
    ],
)
async def test_a_claim_that_cannot_be_made_is_refused_and_nothing_changes(
    insurer: Insurer, change: dict[str, str], status: int, slug: str
) -> None:
    who, other = await insurer.customer(1_000_00), await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    if change.get("policy_id") == "someone-elses":
        change = {"policy_id": (await insurer.active_policy(other))["id"]}

    body = {"kind": "accidental_injury", "amount": "100.00"} | change
    r = await insurer.report(who, policy, body.pop("kind"), body.pop("amount"), **body)

    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + slug)
    for customer in (who, other):
        listed = await insurer.http.get("/v1/insurance/claims", headers=customer.headers)
        assert listed.json()["items"] == []


async def test_someone_elses_claim_is_not_found_for_every_step(insurer: Insurer) -> None:
    who, other = await insurer.customer(1_000_00), await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    r = await insurer.report(who, policy, "accidental_injury", "100.00")
    claim_id = r.json()["id"]

    assert (await insurer.http.get(f"/v1/insurance/claims/{claim_id}", headers=other.headers)).status_code == 404
    assert (await insurer.add_document(other, claim_id, "medical_invoice")).status_code == 404
    assert (await insurer.submit(other, claim_id)).status_code == 404
    assert (await insurer.claim(who, claim_id))["status"] == "reported"


async def test_the_sop_cannot_be_skipped(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    claim_id = (await insurer.report(who, policy, "accidental_injury", "100.00")).json()["id"]

    no_documents = await insurer.submit(who, claim_id)
    assert no_documents.status_code == 409 and no_documents.json()["type"].endswith("/invalid-transition")
    digest = uuid.uuid4().hex * 2
    assert (await insurer.add_document(who, claim_id, "selfie")).status_code == 422
    assert (await insurer.add_document(who, claim_id, "accident_report", digest)).status_code == 201
    same = await insurer.add_document(who, claim_id, "accident_report", digest)
    assert same.status_code == 200 and len(same.json()["documents"]) == 1
    assert (await insurer.add_document(who, claim_id, "medical_invoice")).status_code == 201
    assert (await insurer.submit(who, claim_id)).json()["status"] == "approved"
    assert (await insurer.submit(who, claim_id)).status_code == 409
    late = await insurer.add_document(who, claim_id, "other")
    assert late.status_code == 409
    await insurer.claim_reaches(who, claim_id, "closed")


async def test_claims_page_newest_first_and_the_adjusters_queue_holds_only_waiting_ones(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    reported = (await insurer.report(who, policy, "accidental_injury", "10.00")).json()
    waiting = await insurer.file(who, policy, "accidental_disability", "5000.00")
    before_cover = await insurer.report(who, policy, "accidental_injury", "20.00", incident_date=_day_before(policy))
    assert (before_cover.status_code, before_cover.json()["type"].split("/")[-1]) == (422, "incident-outside-cover")
    rejected = await insurer.file(who, policy, "accidental_injury", "20.00", cause="extreme_sports")
    assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "duplicate_claim")

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await insurer.http.get("/v1/insurance/claims", params=params, headers=who.headers)).json()
        seen += [c["id"] for c in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [rejected["id"], waiting["id"], reported["id"]]
    r = await insurer.http.get("/v1/insurance/claims", params={"cursor": "bm9wZQ"}, headers=who.headers)
    assert r.status_code == 400 and r.json()["type"].endswith("/invalid-cursor")

    queue = await insurer.http.get(
        "/v1/adjuster/claims", params={"awaiting_adjuster": "true", "limit": 200}, headers=insurer.adjuster()
    )
    ids = [c["id"] for c in queue.json()["items"]]
    assert waiting["id"] in ids and reported["id"] not in ids and rejected["id"] not in ids
    assert all(c["awaiting_adjuster"] for c in queue.json()["items"])
    await insurer.decide(insurer.adjuster(), waiting["id"], "reject", "not an accident")


def _day_before(policy: dict[str, str]) -> str:
    return (date.fromisoformat(policy["starts_on"]) - timedelta(days=1)).isoformat()
