"""The claim fraud rules as pure functions: each rule at its boundaries, the sandbox magic
value, and a flagged claim sent to two adjusters whatever its amount."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.insurance.domain import fraud
from services.insurance.domain.claims import Thresholds, approvals_required
from services.insurance.domain.fraud import (
    ClaimOnPolicy,
    FraudFacts,
    FraudRule,
    FraudThresholds,
    SharedDocument,
)

START = date(2025, 6, 1)
DEFAULTS = FraudThresholds()
# A claim that no rule flags: an incident long after the cover started, nothing shared,
# the only claim on its policy, far below the sum insured.
QUIET = FraudFacts(
    claim_id="c-new",
    description="Fell off a bicycle",
    amount_minor=400_00,
    currency="CNY",
    incident_date=START + timedelta(days=120),
    reported_on=START + timedelta(days=121),
    cover_starts_on=START,
    renewal=False,
    sum_insured_minor=100_000_00,
)


def rules(facts: FraudFacts, thresholds: FraudThresholds = DEFAULTS) -> list[str]:
    return [f.rule for f in fraud.flag(facts, thresholds)]


def test_a_quiet_claim_is_not_flagged() -> None:
    assert fraud.flag(QUIET, DEFAULTS) == ()


# --- the same document on another claim ---------------------------------------------------------


def test_a_document_seen_on_another_claim_flags_it_with_that_claim_and_document() -> None:
    facts = replace(QUIET, shared_documents=(SharedDocument("ab" * 32, "c-old", "d-old"),))

    (flag,) = fraud.flag(facts, DEFAULTS)

    assert flag.rule == FraudRule.SHARED_DOCUMENT
    assert flag.evidence == ("c-old", "d-old")
    assert "c-old" in flag.reason and not flag.forced


def test_documents_shared_with_several_claims_name_each_once() -> None:
    shared = (
        SharedDocument("ab" * 32, "c-2", "d-2"),
        SharedDocument("ab" * 32, "c-1", "d-1"),
        SharedDocument("cd" * 32, "c-1", "d-3"),
    )
    (flag,) = fraud.flag(replace(QUIET, shared_documents=shared), DEFAULTS)
    assert flag.evidence == ("c-1", "c-2", "d-1", "d-2", "d-3")


# --- an incident soon after the cover started ---------------------------------------------------


@pytest.mark.parametrize(
    ("day", "flagged"),
    [(0, True), (1, True), (29, True), (30, False), (31, False)],
)
def test_an_incident_in_the_first_30_days_of_cover_is_flagged(day: int, flagged: bool) -> None:
    facts = replace(QUIET, incident_date=START + timedelta(days=day))
    assert rules(facts) == (["early_claim"] if flagged else [])


def test_the_early_claim_reason_names_the_day_and_the_cover_start() -> None:
    (flag,) = fraud.flag(replace(QUIET, incident_date=START + timedelta(days=12)), DEFAULTS)
    assert flag.reason.startswith(f"the incident on {START + timedelta(days=12)} is on day 12 of cover (from {START})")
    assert flag.evidence == ()


def test_the_early_claim_window_follows_its_setting_and_0_turns_it_off() -> None:
    day_10 = replace(QUIET, incident_date=START + timedelta(days=10))
    assert rules(day_10, FraudThresholds(early_claim_days=11)) == ["early_claim"]
    assert rules(day_10, FraudThresholds(early_claim_days=10)) == []
    assert rules(replace(day_10, incident_date=START), FraudThresholds(early_claim_days=0)) == []


def test_a_renewals_first_days_are_not_an_early_claim() -> None:
    assert rules(replace(QUIET, incident_date=START, renewal=True)) == []


# --- several claims on one policy ---------------------------------------------------------------


def earlier_claims(*days_before: int) -> tuple[ClaimOnPolicy, ...]:
    return tuple(ClaimOnPolicy(f"c-{d}", QUIET.reported_on - timedelta(days=d)) for d in days_before)


def test_the_second_claim_on_a_policy_is_not_flagged() -> None:
    assert rules(replace(QUIET, others_on_policy=earlier_claims(5))) == []


def test_the_third_claim_within_90_days_is_flagged_with_the_other_two() -> None:
    (flag,) = fraud.flag(replace(QUIET, others_on_policy=earlier_claims(40, 5)), DEFAULTS)
    assert flag.rule == FraudRule.FREQUENT_CLAIMS
    assert flag.evidence == ("c-40", "c-5")
    assert flag.reason == "claim 3 on this policy within 90 days"


@pytest.mark.parametrize(("days_before", "flagged"), [(88, True), (89, True), (90, False), (91, False)])
def test_only_claims_reported_in_the_90_days_up_to_this_one_count(days_before: int, flagged: bool) -> None:
    facts = replace(QUIET, others_on_policy=earlier_claims(days_before, 3))
    assert rules(facts) == (["frequent_claims"] if flagged else [])


def test_claims_on_the_same_day_count_and_the_setting_moves_the_count() -> None:
    same_day = replace(QUIET, others_on_policy=earlier_claims(0))
    assert rules(same_day) == []
    assert rules(same_day, FraudThresholds(frequent_claims=2)) == ["frequent_claims"]
    assert rules(replace(QUIET, others_on_policy=earlier_claims(0, 0)), FraudThresholds(frequent_claims=0)) == []


# --- a claim for (nearly) the whole sum insured -------------------------------------------------


@pytest.mark.parametrize(
    ("amount_minor", "flagged"),
    [(94_999_99, False), (95_000_00, True), (100_000_00, True)],
)
def test_a_claim_of_95_percent_of_the_sum_insured_or_more_is_flagged(amount_minor: int, flagged: bool) -> None:
    facts = replace(QUIET, amount_minor=amount_minor)
    assert rules(facts) == (["near_sum_insured"] if flagged else [])


# --- the sandbox magic value --------------------------------------------------------------------


@pytest.mark.parametrize("rule", list(FraudRule))
def test_the_magic_description_forces_the_rule_it_names(rule: FraudRule) -> None:
    facts = replace(QUIET, description=f"Lost my phone #sandbox-flag:{rule}")

    (flag,) = fraud.flag(facts, DEFAULTS)

    assert (flag.rule, flag.forced, flag.evidence) == (rule, True, ())
    assert "sandbox magic value" in flag.reason


def test_a_rule_the_facts_raise_keeps_its_evidence_even_when_forced_too() -> None:
    facts = replace(
        QUIET,
        description="#sandbox-flag:shared_document",
        shared_documents=(SharedDocument("ab" * 32, "c-old", "d-old"),),
    )
    (flag,) = fraud.flag(facts, DEFAULTS)
    assert (flag.forced, flag.evidence) == (False, ("c-old", "d-old"))


def test_an_unknown_rule_in_the_magic_value_forces_nothing() -> None:
    assert rules(replace(QUIET, description="#sandbox-flag:everything #sandbox-flag:Early_Claim")) == []


def test_all_rules_at_once_are_flagged_in_order() -> None:
    facts = replace(
        QUIET,
        incident_date=START,
        amount_minor=99_000_00,
        shared_documents=(SharedDocument("ab" * 32, "c-old", "d-old"),),
        others_on_policy=earlier_claims(1, 2),
    )
    assert rules(facts) == ["shared_document", "early_claim", "frequent_claims", "near_sum_insured"]


def test_a_claim_submitted_again_gains_only_new_flags() -> None:
    found = fraud.flag(replace(QUIET, incident_date=START, amount_minor=99_000_00), DEFAULTS)
    assert [f.rule for f in fraud.new_flags(found, frozenset({"early_claim"}))] == ["near_sum_insured"]


# --- who approves a flagged claim: the four-eyes rule -------------------------------------------


@pytest.mark.parametrize("amount_minor", [1_00, 999_99, 5_000_00, 10_000_00])
def test_a_flagged_claim_needs_two_adjusters_whatever_its_amount(amount_minor: int) -> None:
    assert approvals_required(amount_minor, Thresholds(), suspected_fraud=True) == 2


def test_an_unflagged_claim_keeps_the_amount_thresholds() -> None:
    assert [approvals_required(a, Thresholds()) for a in (999_99, 1_000_00, 10_000_00)] == [0, 1, 2]
