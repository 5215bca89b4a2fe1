"""Claim fraud flags: red flags insurers commonly look for when a claim is submitted (a
document seen on another claim, a loss soon after the cover started, claims coming thick
and fast on one policy, a claim for about the whole sum insured). A flag rejects nothing:
it sends the claim to two different adjusters (the four-eyes rule) whatever its amount.

Each rule is a pure function of the facts the submit gathers (`FraudFacts`); `flag`
runs them all. docs/insurance.md ("Fraud flags") and docs/compliance.md say where each
comes from and what the sandbox simplifies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from shared.money import format_minor


class FraudRule(StrEnum):
    SHARED_DOCUMENT = "shared_document"
    EARLY_CLAIM = "early_claim"
    FREQUENT_CLAIMS = "frequent_claims"
    NEAR_SUM_INSURED = "near_sum_insured"


# Sandbox magic value (docs/sandbox.md): a claim whose description holds
# `#sandbox-flag:<rule>` is flagged by that rule whatever the facts say.
MAGIC_MARKER = re.compile(r"#sandbox-flag:([a-z_]+)")
RULE_NAMES = frozenset(r.value for r in FraudRule)


@dataclass(frozen=True)
class FraudThresholds:
    """The rules' settings (INSURANCE_FRAUD_*). 0 turns the rule it names off."""

    early_claim_days: int = 30  # an incident in the cover's first N days
    frequent_claims: int = 3  # the Nth claim on one policy ...
    frequent_claims_days: int = 90  # ... reported within this many days
    near_sum_insured_pct: int = 95  # a claim of at least this share of the sum insured


@dataclass(frozen=True)
class SharedDocument:
    """A document of another claim (any customer's) with the same SHA-256 as one of this
    claim's."""

    checksum: str
    claim_id: str
    document_id: str


@dataclass(frozen=True)
class ClaimOnPolicy:
    """A claim on the same policy, by the bank day it was reported."""

    id: str
    reported_on: date


@dataclass(frozen=True)
class FraudFacts:
    claim_id: str
    description: str
    amount_minor: int
    currency: str
    incident_date: date
    reported_on: date  # the bank day the claim was reported
    cover_starts_on: date | None
    renewal: bool  # the policy renews an earlier one: its cover did not just start
    sum_insured_minor: int
    shared_documents: tuple[SharedDocument, ...] = ()
    others_on_policy: tuple[ClaimOnPolicy, ...] = ()


@dataclass(frozen=True)
class FraudFlag:
    rule: FraudRule
    reason: str
    evidence: tuple[str, ...] = ()  # the ids that show it: other claims, documents
    forced: bool = False  # raised by the sandbox magic value, not by the facts


FraudCheck = Callable[[FraudFacts, FraudThresholds], FraudFlag | None]


def shared_document(facts: FraudFacts, _t: FraudThresholds) -> FraudFlag | None:
    """A document whose bytes (SHA-256) were already sent with another claim: the same
    invoice or photo used twice."""
    if not facts.shared_documents:
        return None
    claims = sorted({d.claim_id for d in facts.shared_documents})
    documents = sorted({d.document_id for d in facts.shared_documents})
    return FraudFlag(
        FraudRule.SHARED_DOCUMENT,
        f"{len(documents)} document(s) already sent with claim(s) {', '.join(claims)}",
        (*claims, *documents),
    )


def early_claim(facts: FraudFacts, t: FraudThresholds) -> FraudFlag | None:
    """An incident in the first `early_claim_days` of cover (day 0 is the day cover
    starts): insurance bought after the loss, or in view of it. A renewal's cover did not
    just start, so it is left alone."""
    start = facts.cover_starts_on
    if t.early_claim_days <= 0 or start is None or facts.renewal:
        return None
    day = (facts.incident_date - start).days
    if not 0 <= day < t.early_claim_days:
        return None
    return FraudFlag(
        FraudRule.EARLY_CLAIM,
        f"the incident on {facts.incident_date} is on day {day} of cover (from {start}); "
        f"the first {t.early_claim_days} days are watched",
    )


def frequent_claims(facts: FraudFacts, t: FraudThresholds) -> FraudFlag | None:
    """This claim is at least the `frequent_claims`th on the policy reported within
    `frequent_claims_days` (this one's day and the N-1 days before it)."""
    if t.frequent_claims <= 0 or t.frequent_claims_days <= 0:
        return None
    since = facts.reported_on - timedelta(days=t.frequent_claims_days - 1)
    recent = sorted(o.id for o in facts.others_on_policy if since <= o.reported_on <= facts.reported_on)
    if len(recent) + 1 < t.frequent_claims:
        return None
    return FraudFlag(
        FraudRule.FREQUENT_CLAIMS,
        f"claim {len(recent) + 1} on this policy within {t.frequent_claims_days} days",
        tuple(recent),
    )


def near_sum_insured(facts: FraudFacts, t: FraudThresholds) -> FraudFlag | None:
    """A claim for (nearly) the whole sum insured."""
    if t.near_sum_insured_pct <= 0 or facts.sum_insured_minor <= 0:
        return None
    if facts.amount_minor * 100 < facts.sum_insured_minor * t.near_sum_insured_pct:
        return None
    claimed, insured = format_minor(facts.amount_minor), format_minor(facts.sum_insured_minor)
    return FraudFlag(
        FraudRule.NEAR_SUM_INSURED,
        f"{claimed} claimed is at least {t.near_sum_insured_pct}% of the sum insured of {insured}",
    )


CHECKS: dict[FraudRule, FraudCheck] = {
    FraudRule.SHARED_DOCUMENT: shared_document,
    FraudRule.EARLY_CLAIM: early_claim,
    FraudRule.FREQUENT_CLAIMS: frequent_claims,
    FraudRule.NEAR_SUM_INSURED: near_sum_insured,
}


def forced_rules(description: str) -> frozenset[FraudRule]:
    """The rules the sandbox magic value in the description names (unknown names aside)."""
    return frozenset(FraudRule(m) for m in MAGIC_MARKER.findall(description) if m in RULE_NAMES)


def flag(facts: FraudFacts, thresholds: FraudThresholds) -> tuple[FraudFlag, ...]:
    """Every rule's flag on the claim, in the order of `CHECKS`."""
    forced = forced_rules(facts.description)
    flags = []
    for rule, check in CHECKS.items():
        found = check(facts, thresholds)
        if found is None and rule in forced:
            found = FraudFlag(rule, f"forced by the sandbox magic value #sandbox-flag:{rule}", forced=True)
        if found is not None:
            flags.append(found)
    return tuple(flags)


def new_flags(found: tuple[FraudFlag, ...], already: frozenset[str]) -> tuple[FraudFlag, ...]:
    """The flags of rules not yet flagged on the claim (a claim submitted again after the
    adjuster asked for more keeps its earlier flags and gains only new ones)."""
    return tuple(f for f in found if f.rule not in already)
