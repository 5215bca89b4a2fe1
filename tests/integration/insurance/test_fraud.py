"""Claim fraud flags in the insurance service with its real database and broker: the
flags kept beside the claim, a ClaimFlagged event on insurance.events, the audit entry,
two adjusters whatever the amount, and who may read the flagged-claims queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.insurance import store
from services.insurance.domain import FraudThresholds
from tests.integration.insurance.harness import Insurer, checksum, types

pytestmark = pytest.mark.broker


@pytest.fixture
async def frequent_claims_watched(insurer: Insurer) -> AsyncIterator[None]:
    """The frequent-claims rule at its default (the package turns it off)."""
    before = insurer.ctx.fraud
    insurer.ctx.fraud = replace(before, frequent_claims=FraudThresholds().frequent_claims)
    yield
    insurer.ctx.fraud = before


async def staff_view(insurer: Insurer, claim_id: str, roles: tuple[str, ...] = ("adjuster",)) -> dict[str, Any]:
    r = await insurer.http.get(f"/v1/adjuster/claims/{claim_id}", headers=insurer.adjuster(roles=roles))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def audit_rows(insurer: Insurer, claim_id: str) -> list[Any]:
    log = store.messaging.audit.log
    async with insurer.app.state.runtime.db.read() as session:
        query = select(log).where(log.c.subject_id == claim_id, log.c.action == "claim.flagged")
        return list((await session.execute(query)).all())


@pytest.mark.usefixtures("frequent_claims_watched")
async def test_the_third_claim_on_a_policy_is_flagged_with_the_first_two_and_needs_two_adjusters(
    insurer: Insurer,
) -> None:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    insurer.ctx.clock.advance(timedelta(days=2))
    start = date.fromisoformat(policy["starts_on"])
    days = [(start + timedelta(days=d)).isoformat() for d in range(3)]

    first = await insurer.file(who, policy, "accidental_injury", "100.00", incident_date=days[0])
    second = await insurer.file(who, policy, "accidental_injury", "100.00", incident_date=days[1])
    third = await insurer.file(who, policy, "accidental_injury", "100.00", incident_date=days[2])

    assert [first["status"], second["status"]] == ["approved", "approved"]
    assert (third["status"], third["approvals_required"], third["flags"], third["fraud_flags"]) == (
        "under_assessment",
        2,
        [],
        None,
    )
    staff = await staff_view(insurer, third["id"])
    (flag,) = staff["fraud_flags"]
    assert (flag["rule"], flag["evidence"]) == ("frequent_claims", sorted([first["id"], second["id"]]))
    story = await insurer.story(third["id"], "insurance.ClaimReferredToAdjuster")
    assert types(story)[-3:] == ["ClaimAssessmentStarted", "ClaimFlagged", "ClaimReferredToAdjuster"]
    flagged = next(e for e in story if e.type == "insurance.ClaimFlagged")
    assert [f["rule"] for f in flagged.data["flags"]] == ["frequent_claims"]
    (row,) = await audit_rows(insurer, third["id"])
    assert (row.actor, row.customer_id) == ("system:insurance", who.customer.id)

    one = await insurer.decide(insurer.adjuster("adjuster-one"), third["id"], "approve")
    assert (one.status_code, one.json()["status"]) == (200, "under_assessment")
    two = await insurer.decide(insurer.adjuster("adjuster-two"), third["id"], "approve")
    assert (two.status_code, two.json()["status"]) == (200, "approved")
    await insurer.claim_reaches(who, third["id"], "closed")
    await insurer.claim_reaches(who, second["id"], "closed")


async def test_a_checksum_on_another_customers_claim_flags_the_later_claim(insurer: Insurer) -> None:
    alice, bob = await insurer.customer(1_000_00), await insurer.customer(1_000_00)
    digest = checksum()
    alices_policy = await insurer.active_policy(alice)
    bobs_policy = await insurer.active_policy(bob)

    r = await insurer.report(alice, alices_policy, "accidental_injury", "200.00")
    alices = r.json()["id"]
    alices_document = (await insurer.add_document(alice, alices, "medical_invoice", digest)).json()["documents"][0]
    r = await insurer.report(bob, bobs_policy, "accidental_injury", "200.00")
    bobs = r.json()["id"]
    await insurer.add_document(bob, bobs, "medical_invoice", digest)
    await insurer.add_document(bob, bobs, "accident_report")
    submitted = (await insurer.submit(bob, bobs)).json()

    assert (submitted["status"], submitted["approvals_required"]) == ("under_assessment", 2)
    staff = await staff_view(insurer, bobs)
    assert [(f["rule"], f["evidence"]) for f in staff["fraud_flags"]] == [
        ("shared_document", [alices, alices_document["id"]])
    ]
    # Alice's claim, not yet submitted, is not flagged by the later one.
    assert (await staff_view(insurer, alices))["fraud_flags"] == []


@pytest.mark.parametrize(
    ("roles", "status"),
    [(("adjuster",), 200), (("operator",), 200), (("compliance",), 200), (("customer",), 403)],
)
async def test_the_flagged_queue_is_for_adjusters_operators_and_compliance(
    insurer: Insurer, roles: tuple[str, ...], status: int
) -> None:
    r = await insurer.http.get("/v1/admin/claims/flagged", headers=insurer.adjuster(roles=roles))
    assert r.status_code == status, r.text
    if status == 200:
        assert all(c["fraud_flags"] for c in r.json()["items"])
