"""The claims SOP: status graph, reporting checks, each assessment rule, routing to
adjusters, and the four-eyes decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.insurance.domain import (
    CATALOGUE,
    DOCUMENTS_OPEN,
    MAGIC_REVIEW_AMOUNT_MINOR,
    TRANSITIONS,
    AboveSumInsured,
    AlreadyDecided,
    Case,
    ClaimFacts,
    ClaimStatus,
    Decision,
    DecisionOutcome,
    IncidentInFuture,
    InsuranceError,
    InvalidAmountApproved,
    InvalidTransition,
    NotCovered,
    OtherClaim,
    OwnClaim,
    PolicyNotActive,
    PolicyTerms,
    ReasonRequired,
    Settlement,
    Thresholds,
    UnknownDocumentKind,
    after_waiting_period,
    approvals_required,
    assess,
    check_approved_amount,
    check_document_kind,
    check_new_claim,
    decide,
    not_a_duplicate,
    not_excluded,
    policy_in_force,
    remaining_sum_insured,
    required_documents_present,
    settle,
    transition,
    within_remaining_sum_insured,
)

S = ClaimStatus
HEALTH = next(p for p in CATALOGUE if p.code == "short_term_health")
STARTS = date(2025, 1, 1)
POLICY = PolicyTerms(
    status="active",
    starts_on=STARTS,
    ends_on=STARTS + timedelta(days=364),
    covered_from=STARTS + timedelta(days=30),
    sum_insured_minor=100_000_00,
)
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CLAIM = ClaimFacts(
    id="claim-b",
    customer_id="customer-1",
    kind="outpatient",
    cause=None,
    incident_date=date(2025, 3, 1),
    amount_minor=500_00,
    created_at=T0,
    document_kinds=frozenset({"medical_invoice"}),
)
THRESHOLDS = Thresholds(auto_approve_below_minor=1_000_00, four_eyes_from_minor=10_000_00)


def case(claim: ClaimFacts = CLAIM, policy: PolicyTerms = POLICY, others: tuple[OtherClaim, ...] = ()) -> Case:
    return Case(HEALTH, policy, claim, others)


def other(
    status: str, *, amount: int = 500_00, kind: str = "outpatient", day: date = date(2025, 3, 1), **kw
) -> OtherClaim:  # type: ignore[no-untyped-def]
    return OtherClaim(
        id=kw.get("id", "claim-a"),
        kind=kind,
        incident_date=day,
        amount_minor=amount,
        status=status,
        created_at=kw.get("created_at", T0 - timedelta(hours=1)),
    )


# --- the SOP graph -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, S.REPORTED),
        (S.REPORTED, S.DOCUMENTS_SUBMITTED),
        (S.DOCUMENTS_SUBMITTED, S.UNDER_ASSESSMENT),
        (S.UNDER_ASSESSMENT, S.APPROVED),
        (S.UNDER_ASSESSMENT, S.REJECTED),
        (S.APPROVED, S.PAID),
        (S.PAID, S.CLOSED),
    ],
)
def test_the_sop_allows_each_step_in_order(current: S | None, target: S) -> None:
    assert transition(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [(None, S.APPROVED)] + [(c, t) for c in S for t in S if t not in TRANSITIONS[c]],
)
def test_the_sop_refuses_every_other_step(current: S | None, target: S) -> None:
    with pytest.raises(InvalidTransition):
        transition(current, target)


def test_submitting_before_any_document_says_what_to_do_first() -> None:
    with pytest.raises(InvalidTransition) as refused:
        transition(S.REPORTED, S.UNDER_ASSESSMENT)
    assert str(refused.value) == (
        "a claim that is reported cannot become under_assessment: upload at least one document "
        "(POST /v1/insurance/claims/{claim_id}/documents), then submit"
    )


def test_rejected_and_closed_are_the_end_of_a_claim() -> None:
    assert not TRANSITIONS[S.REJECTED] and not TRANSITIONS[S.CLOSED]


# --- reporting: bad input is refused before any assessment ----------------------------------


@pytest.mark.parametrize(
    ("policy", "kind", "incident", "amount", "error"),
    [
        (replace(POLICY, status="pending"), "outpatient", date(2025, 3, 1), 100, PolicyNotActive),
        (replace(POLICY, status="failed"), "outpatient", date(2025, 3, 1), 100, PolicyNotActive),
        (POLICY, "screen_damage", date(2025, 3, 1), 100, NotCovered),
        (POLICY, "outpatient", date(2025, 3, 2), 100, IncidentInFuture),
        (POLICY, "outpatient", date(2025, 3, 1), 100_000_01, AboveSumInsured),
    ],
)
def test_a_claim_that_cannot_be_reported_is_refused(
    policy: PolicyTerms, kind: str, incident: date, amount: int, error: type[InsuranceError]
) -> None:
    with pytest.raises(error):
        check_new_claim(HEALTH, policy, kind=kind, incident_date=incident, amount_minor=amount, today=date(2025, 3, 1))


def test_a_claim_of_the_whole_sum_insured_about_today_may_be_reported() -> None:
    check_new_claim(
        HEALTH,
        POLICY,
        kind="hospitalisation",
        incident_date=date(2025, 3, 1),
        amount_minor=100_000_00,
        today=date(2025, 3, 1),
    )


def test_documents_must_be_of_a_known_kind() -> None:
    check_document_kind("medical_invoice")
    check_document_kind("other")
    with pytest.raises(UnknownDocumentKind):
        check_document_kind("selfie")


# --- each assessment rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incident", "status", "passes"),
    [
        (STARTS, "active", True),
        (STARTS + timedelta(days=364), "active", True),
        (STARTS - timedelta(days=1), "active", False),
        (STARTS + timedelta(days=365), "active", False),
        (date(2025, 3, 1), "failed", False),
    ],
)
def test_policy_in_force_on_the_incident_date(incident: date, status: str, passes: bool) -> None:
    result = policy_in_force(case(replace(CLAIM, incident_date=incident), replace(POLICY, status=status)))
    assert (result is None) == passes
    if not passes:
        assert result is not None and result.reason == "policy_not_in_force"


@pytest.mark.parametrize(
    ("incident", "passes"),
    [
        (STARTS, False),
        (STARTS + timedelta(days=29), False),
        (STARTS + timedelta(days=30), True),
        (date(2025, 6, 1), True),
    ],
)
def test_incident_after_the_waiting_period(incident: date, passes: bool) -> None:
    result = after_waiting_period(case(replace(CLAIM, incident_date=incident)))
    assert (result is None) == passes
    if not passes:
        assert result is not None and result.reason == "waiting_period"


@pytest.mark.parametrize(
    ("others", "amount", "passes"),
    [
        ((), 100_000_00, True),
        ((other("paid", amount=60_000_00),), 40_000_00, True),
        ((other("paid", amount=60_000_00),), 40_000_01, False),
        ((other("approved", amount=99_999_00),), 1_01, False),
        ((other("closed", amount=100_000_00),), 1, False),
        # rejected and still-open claims take nothing from the sum insured
        (
            (other("rejected", amount=100_000_00), other("under_assessment", amount=100_000_00, id="c")),
            100_000_00,
            True,
        ),
    ],
)
def test_amount_within_the_remaining_sum_insured(others: tuple[OtherClaim, ...], amount: int, passes: bool) -> None:
    result = within_remaining_sum_insured(case(replace(CLAIM, amount_minor=amount), others=others))
    assert (result is None) == passes
    if not passes:
        assert result is not None and result.reason == "exceeds_remaining_sum_insured"


def test_remaining_sum_insured_counts_only_settled_claims() -> None:
    others = [other("paid", amount=10_00), other("approved", amount=20_00), other("rejected", amount=40_00)]
    assert remaining_sum_insured(100_00, others) == 70_00


@pytest.mark.parametrize(
    ("earlier", "passes"),
    [
        (other("paid"), False),
        (other("under_assessment"), False),
        (other("reported"), False),
        (other("rejected"), True),  # a rejected claim may be made again
        (other("paid", kind="hospitalisation"), True),  # another kind of incident
        (other("paid", day=date(2025, 2, 28)), True),  # another day
        (other("reported", created_at=T0 + timedelta(seconds=1)), True),  # the later one is the duplicate
    ],
)
def test_no_duplicate_claim_for_the_same_incident(earlier: OtherClaim, passes: bool) -> None:
    result = not_a_duplicate(case(others=(earlier,)))
    assert (result is None) == passes
    if not passes:
        assert result is not None and result.reason == "duplicate_claim"


@pytest.mark.parametrize(
    ("kind", "documents", "passes"),
    [
        ("outpatient", {"medical_invoice"}, True),
        ("outpatient", set(), False),
        ("hospitalisation", {"medical_invoice"}, False),
        ("hospitalisation", {"medical_invoice", "discharge_summary", "other"}, True),
    ],
)
def test_required_documents_present(kind: str, documents: set[str], passes: bool) -> None:
    result = required_documents_present(case(replace(CLAIM, kind=kind, document_kinds=frozenset(documents))))
    assert (result is None) == passes
    if not passes:
        assert result is not None and result.reason == "missing_documents"
        assert "discharge_summary" in result.detail or "medical_invoice" in result.detail


@pytest.mark.parametrize(
    ("cause", "passes"),
    [(None, True), ("slipped_on_ice", True), ("pre_existing_condition", False), ("cosmetic_treatment", False)],
)
def test_an_excluded_cause_is_not_covered(cause: str | None, passes: bool) -> None:
    result = not_excluded(case(replace(CLAIM, cause=cause)))
    assert (result is None) == passes
    if not passes:
        assert result is not None and result.reason == "excluded_cause"


# --- assessment and routing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "approvals"),
    [
        (100_01, 0),  # the least above short-term health's 100.00 deductible
        (999_99, 0),
        (1_000_00, 1),
        (9_999_99, 1),
        (10_000_00, 2),
        (100_000_00, 2),
        (MAGIC_REVIEW_AMOUNT_MINOR, 1),
    ],
)
def test_a_claim_that_passes_every_rule_is_routed_by_its_amount(amount: int, approvals: int) -> None:
    assessment = assess(case(replace(CLAIM, amount_minor=amount)), THRESHOLDS)
    assert not assessment.rejected
    assert assessment.approvals_required == approvals
    assert assessment.automatic == (approvals == 0)


def test_the_magic_amount_is_flagged_for_review() -> None:
    assessment = assess(case(replace(CLAIM, amount_minor=888_88)), THRESHOLDS)
    assert assessment.flags == ("sandbox_review",)
    assert approvals_required(888_88, THRESHOLDS) == 0  # only the flag sends it to an adjuster


def test_every_failing_rule_is_reported() -> None:
    claim = replace(
        CLAIM, incident_date=STARTS + timedelta(days=3), document_kinds=frozenset(), cause="cosmetic_treatment"
    )
    assessment = assess(case(claim), THRESHOLDS)
    assert assessment.rejected and not assessment.automatic
    assert [r.reason for r in assessment.rejections] == ["waiting_period", "missing_documents", "excluded_cause"]


# --- adjusters: four eyes ------------------------------------------------------------------------


def decide_as(
    adjuster: str,
    decision: Decision = Decision.APPROVE,
    *,
    approvals: tuple[str, ...] = (),
    required: int = 2,
    status: str = "under_assessment",
):  # type: ignore[no-untyped-def]
    return decide(
        status=status,
        claimant_id="customer-1",
        approvals_required=required,
        approvals=approvals,
        adjuster_id=adjuster,
        decision=decision,
    )


def test_one_approval_approves_a_claim_that_needs_one() -> None:
    outcome = decide_as("adj-1", required=1)
    assert (outcome.status, outcome.approvals) == (S.APPROVED, ("adj-1",))


def test_above_the_four_eyes_threshold_two_different_adjusters_must_approve() -> None:
    first = decide_as("adj-1")
    assert (first.status, first.approvals) == (S.UNDER_ASSESSMENT, ("adj-1",))
    second = decide_as("adj-2", approvals=first.approvals)
    assert (second.status, second.approvals) == (S.APPROVED, ("adj-1", "adj-2"))


def test_an_adjuster_cannot_approve_twice() -> None:
    with pytest.raises(AlreadyDecided):
        decide_as("adj-1", approvals=("adj-1",))
    with pytest.raises(AlreadyDecided):
        decide_as("adj-1", Decision.REJECT, approvals=("adj-1",))


def test_an_adjuster_cannot_decide_on_their_own_claim() -> None:
    with pytest.raises(OwnClaim):
        decide_as("customer-1", required=1)


def test_one_rejection_rejects_even_after_a_first_approval() -> None:
    assert decide_as("adj-2", Decision.REJECT, approvals=("adj-1",)).status == S.REJECTED


@pytest.mark.parametrize(
    ("status", "required", "approvals"),
    [
        ("reported", 1, ()),
        ("documents_submitted", 1, ()),
        ("approved", 1, ("adj-1",)),
        ("rejected", 1, ()),
        ("paid", 2, ("a", "b")),
        ("under_assessment", 0, ()),  # approved automatically: nothing to decide
    ],
)
def test_a_decision_on_a_claim_not_waiting_for_one_is_refused(
    status: str, required: int, approvals: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidTransition):
        decide_as("adj-3", status=status, required=required, approvals=approvals)


# --- settlement: the deductible, partial approval, more information ---------------------------


def test_a_claim_not_above_the_deductible_is_rejected() -> None:
    assessment = assess(case(replace(CLAIM, amount_minor=100_00)), THRESHOLDS)
    assert [r.reason for r in assessment.rejections] == ["below_deductible"]
    assert "not above the deductible of 100.00" in assessment.rejections[0].detail


def test_the_payout_is_the_smallest_approved_amount_less_the_deductible() -> None:
    assert settle(500_00, [], 100_00) == Settlement(500_00, 100_00)
    assert settle(500_00, [], 100_00).payout_minor == 400_00
    assert settle(5_000_00, [None, 3_200_00], 100_00).payout_minor == 3_100_00
    assert settle(5_000_00, [4_000_00, 3_200_00], 0).payout_minor == 3_200_00


def test_an_adjuster_approves_less_only_with_a_reason_and_above_the_deductible() -> None:
    check_approved_amount(None, 500_00, 100_00, None)
    check_approved_amount(500_00, 500_00, 100_00, None)
    check_approved_amount(300_00, 500_00, 100_00, "the taxi receipt is not covered")
    with pytest.raises(ReasonRequired):
        check_approved_amount(300_00, 500_00, 100_00, None)
    with pytest.raises(InvalidAmountApproved, match=r"more than the 500\.00 claimed"):
        check_approved_amount(500_01, 500_00, 100_00, "x")
    with pytest.raises(InvalidAmountApproved, match="deductible"):
        check_approved_amount(100_00, 500_00, 100_00, "x")


def test_asking_for_more_information_returns_the_claim_to_the_customer() -> None:
    outcome = decide(
        status=S.UNDER_ASSESSMENT,
        claimant_id="customer-1",
        approvals_required=2,
        approvals=("adjuster-1",),
        adjuster_id="adjuster-2",
        decision=Decision.REQUEST_INFO,
    )
    assert outcome == DecisionOutcome(S.INFO_REQUESTED, ("adjuster-1",))
    assert transition(S.INFO_REQUESTED, S.UNDER_ASSESSMENT) == S.UNDER_ASSESSMENT
    assert S.INFO_REQUESTED in DOCUMENTS_OPEN
    with pytest.raises(InvalidTransition):
        transition(S.INFO_REQUESTED, S.APPROVED)


def test_a_claim_the_fraud_rules_flag_goes_to_two_adjusters_with_the_rules_in_its_flags() -> None:
    assessment = assess(case(replace(CLAIM, amount_minor=888_88)), THRESHOLDS, fraud=["early_claim"])
    assert (assessment.approvals_required, assessment.flags) == (2, ("sandbox_review", "early_claim"))
    assert not assessment.automatic


def test_a_rejected_claim_keeps_its_fraud_flags() -> None:
    assessment = assess(case(replace(CLAIM, document_kinds=frozenset())), THRESHOLDS, fraud=["shared_document"])
    assert assessment.rejected and assessment.flags == ("shared_document",)
