"""The claims SOP: the status graph, the assessment rules, who must approve, and the
adjusters' four-eyes decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.insurance.domain.errors import (
    AboveSumInsured,
    AlreadyDecided,
    IncidentInFuture,
    InvalidAmountApproved,
    InvalidTransition,
    NotCovered,
    OwnClaim,
    ReasonRequired,
    UnknownDocumentKind,
)
from services.insurance.domain.policies import PAID, check_incident_in_cover
from services.insurance.domain.products import DOCUMENT_KINDS, Product
from shared.money import format_minor

# Sandbox magic value (docs/insurance.md): a claim of exactly 888.88 CNY is flagged for
# review and always waits for an adjuster, however small.
MAGIC_REVIEW_AMOUNT_MINOR = 888_88

# --- claims: the SOP ------------------------------------------------------------------------


class ClaimStatus(StrEnum):
    REPORTED = "reported"
    DOCUMENTS_SUBMITTED = "documents_submitted"
    UNDER_ASSESSMENT = "under_assessment"
    INFO_REQUESTED = "info_requested"  # an adjuster asked the customer for more; they resubmit
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    CLOSED = "closed"


# The standard operating procedure: every claim walks this graph and nothing else.
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.REPORTED: frozenset({ClaimStatus.DOCUMENTS_SUBMITTED}),
    ClaimStatus.DOCUMENTS_SUBMITTED: frozenset({ClaimStatus.UNDER_ASSESSMENT}),
    ClaimStatus.UNDER_ASSESSMENT: frozenset({ClaimStatus.APPROVED, ClaimStatus.REJECTED, ClaimStatus.INFO_REQUESTED}),
    ClaimStatus.INFO_REQUESTED: frozenset({ClaimStatus.UNDER_ASSESSMENT}),
    ClaimStatus.APPROVED: frozenset({ClaimStatus.PAID}),
    ClaimStatus.REJECTED: frozenset(),
    ClaimStatus.PAID: frozenset({ClaimStatus.CLOSED}),
    ClaimStatus.CLOSED: frozenset(),
}
# What to do instead, for a step a customer can ask for too early: said in the refusal.
NEXT_STEP: dict[tuple[ClaimStatus, ClaimStatus], str] = {
    (ClaimStatus.REPORTED, ClaimStatus.UNDER_ASSESSMENT): (
        "upload at least one document (POST /v1/insurance/claims/{claim_id}/documents), then submit"
    ),
}
DOCUMENTS_OPEN = frozenset({ClaimStatus.REPORTED, ClaimStatus.DOCUMENTS_SUBMITTED, ClaimStatus.INFO_REQUESTED})
# Claims whose amount counts against the sum insured.
SETTLED = frozenset({ClaimStatus.APPROVED, ClaimStatus.PAID, ClaimStatus.CLOSED})


def transition(current: ClaimStatus | str | None, target: ClaimStatus) -> ClaimStatus:
    """The SOP's next status, or InvalidTransition. A claim starts reported (from None)."""
    if current is None:
        if target != ClaimStatus.REPORTED:
            raise InvalidTransition(f"a claim starts reported, not {target}")
        return target
    current = ClaimStatus(current)
    if target not in TRANSITIONS[current]:
        hint = NEXT_STEP.get((current, target))
        raise InvalidTransition(f"a claim that is {current} cannot become {target}" + (f": {hint}" if hint else ""))
    return target


def check_new_claim(
    product: Product, policy: PolicyTerms, *, kind: str, incident_date: date, amount_minor: int, today: date
) -> None:
    """What a claim must be to be reported at all (bad input is refused, not assessed):
    on a paid policy, about an incident during its cover, of a kind the product covers,
    about the past, and not above the sum insured. Whether it is then paid is the
    assessment's business."""
    if incident_date > today:
        raise IncidentInFuture(f"the incident date {incident_date} is in the future (today is {today})")
    check_incident_in_cover(policy.status, policy.starts_on, policy.ends_on, incident_date)
    if product.claim_kind(kind) is None:
        kinds = ", ".join(k.code for k in product.claim_kinds)
        raise NotCovered(f"{product.name} covers {kinds}; not {kind}")
    if amount_minor > policy.sum_insured_minor:
        insured = format_minor(policy.sum_insured_minor)
        raise AboveSumInsured(f"{format_minor(amount_minor)} is above the policy's sum insured of {insured}")


def check_document_kind(kind: str) -> None:
    if kind not in DOCUMENT_KINDS:
        raise UnknownDocumentKind(f"document kind {kind!r} is not one of {', '.join(sorted(DOCUMENT_KINDS))}")


@dataclass(frozen=True)
class Thresholds:
    """Claims below `auto_approve_below_minor` are approved without an adjuster; from
    `four_eyes_from_minor` on, two different adjusters must approve."""

    auto_approve_below_minor: int = 1_000_00
    four_eyes_from_minor: int = 10_000_00


@dataclass(frozen=True)
class PolicyTerms:
    status: str
    starts_on: date | None
    ends_on: date | None
    covered_from: date | None
    sum_insured_minor: int


@dataclass(frozen=True)
class ClaimFacts:
    id: str
    customer_id: str
    kind: str
    cause: str | None
    incident_date: date
    amount_minor: int
    created_at: datetime
    document_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OtherClaim:
    """Another claim on the same policy."""

    id: str
    kind: str
    incident_date: date
    amount_minor: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


@dataclass(frozen=True)
class Case:
    """Everything an assessment looks at: the claim, its policy and product, and the
    policy's other claims."""

    product: Product
    policy: PolicyTerms
    claim: ClaimFacts
    others: tuple[OtherClaim, ...] = ()


Rule = Callable[[Case], Rejection | None]


def policy_in_force(case: Case) -> Rejection | None:
    """The policy was paid for and in cover on the incident date."""
    policy, claim = case.policy, case.claim
    if policy.status not in PAID or policy.starts_on is None or policy.ends_on is None:
        return Rejection("policy_not_in_force", f"the policy is {policy.status}")
    if not policy.starts_on <= claim.incident_date <= policy.ends_on:
        return Rejection(
            "policy_not_in_force",
            f"the incident on {claim.incident_date} is outside the cover from {policy.starts_on} to {policy.ends_on}",
        )
    return None


def after_waiting_period(case: Case) -> Rejection | None:
    """The incident happened after the waiting period."""
    covered_from, incident = case.policy.covered_from, case.claim.incident_date
    if covered_from is not None and incident < covered_from:
        return Rejection(
            "waiting_period", f"the incident on {incident} falls in the waiting period; cover starts {covered_from}"
        )
    return None


def remaining_sum_insured(sum_insured_minor: int, others: Iterable[OtherClaim]) -> int:
    """The sum insured less what approved (and paid) claims took."""
    return sum_insured_minor - sum(o.amount_minor for o in others if o.status in SETTLED)


def within_remaining_sum_insured(case: Case) -> Rejection | None:
    """The amount fits in what earlier approved claims left of the sum insured."""
    claim = case.claim
    left = remaining_sum_insured(case.policy.sum_insured_minor, (o for o in case.others if o.id != claim.id))
    if claim.amount_minor > left:
        return Rejection(
            "exceeds_remaining_sum_insured",
            f"{format_minor(claim.amount_minor)} claimed but only {format_minor(left)} of the sum insured remains",
        )
    return None


def not_a_duplicate(case: Case) -> Rejection | None:
    """No earlier live claim on the policy for the same incident (same day, same kind)."""
    claim = case.claim
    for other in case.others:
        same_incident = other.kind == claim.kind and other.incident_date == claim.incident_date
        earlier = (other.created_at, other.id) < (claim.created_at, claim.id)
        if other.id != claim.id and same_incident and earlier and other.status != ClaimStatus.REJECTED:
            return Rejection("duplicate_claim", f"claim {other.id} already covers this incident")
    return None


def required_documents_present(case: Case) -> Rejection | None:
    """Every document the product asks for this kind of claim was submitted."""
    product, claim = case.product, case.claim
    kind = product.claim_kind(claim.kind)
    if kind is None:
        return Rejection("not_covered", f"{product.name} does not cover {claim.kind} claims")
    missing = [d for d in kind.required_documents if d not in claim.document_kinds]
    if missing:
        return Rejection("missing_documents", "missing required documents: " + ", ".join(missing))
    return None


def above_deductible(case: Case) -> Rejection | None:
    """Something is left to pay once the product's deductible is taken."""
    deductible, claim = case.product.deductible_minor, case.claim
    if deductible and claim.amount_minor <= deductible:
        return Rejection(
            "below_deductible",
            f"{format_minor(claim.amount_minor)} claimed is not above the deductible of {format_minor(deductible)}",
        )
    return None


def not_excluded(case: Case) -> Rejection | None:
    """The cause is not one of the product's exclusions."""
    cause = case.claim.cause
    if cause and cause in case.product.exclusions:
        return Rejection("excluded_cause", f"{case.product.name} excludes incidents caused by {cause}")
    return None


RULES: tuple[Rule, ...] = (
    policy_in_force,
    after_waiting_period,
    within_remaining_sum_insured,
    not_a_duplicate,
    required_documents_present,
    not_excluded,
    above_deductible,
)


@dataclass(frozen=True)
class Assessment:
    rejections: tuple[Rejection, ...] = ()
    approvals_required: int = 0  # 0: approved automatically
    flags: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return bool(self.rejections)

    @property
    def automatic(self) -> bool:
        return not self.rejected and self.approvals_required == 0


def approvals_required(
    amount_minor: int, thresholds: Thresholds, flags: Iterable[str] = (), *, suspected_fraud: bool = False
) -> int:
    """How many different adjusters must approve: 0 below the automatic threshold (unless
    flagged), 2 from the four-eyes threshold on or when a fraud rule flagged the claim
    (domain/fraud.py), whatever its amount; 1 in between."""
    if amount_minor >= thresholds.four_eyes_from_minor or suspected_fraud:
        return 2
    if amount_minor >= thresholds.auto_approve_below_minor or any(flags):
        return 1
    return 0


def fraud_flags(claim: ClaimFacts) -> tuple[str, ...]:
    flags = []
    if claim.amount_minor == MAGIC_REVIEW_AMOUNT_MINOR:
        flags.append("sandbox_review")
    return tuple(flags)


def assess(case: Case, thresholds: Thresholds, fraud: Iterable[str] = ()) -> Assessment:
    """Run every rule; any failure rejects the claim (all reasons are reported), otherwise
    the amount and the flags decide who approves it. `fraud` names the fraud rules that
    flagged the claim (domain/fraud.py): they send it to two adjusters."""
    fraud = tuple(dict.fromkeys(fraud))
    flags = fraud_flags(case.claim) + tuple(f for f in fraud if f not in fraud_flags(case.claim))
    rejections = tuple(r for rule in RULES if (r := rule(case)) is not None)
    if rejections:
        return Assessment(rejections=rejections, flags=flags)
    required = approvals_required(case.claim.amount_minor, thresholds, flags, suspected_fraud=bool(fraud))
    return Assessment(approvals_required=required, flags=flags)


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request_info"  # back to the customer for more documents or answers


@dataclass(frozen=True)
class Settlement:
    """What an approved claim pays: the approved amount (the claimed amount, or less if an
    adjuster approved less) less the product's deductible."""

    approved_minor: int
    deductible_minor: int

    @property
    def payout_minor(self) -> int:
        return self.approved_minor - self.deductible_minor


def settle(claimed_minor: int, approved: Iterable[int | None], deductible_minor: int) -> Settlement:
    """The smallest amount any approving adjuster named (none named: the claimed amount),
    less the deductible."""
    named = [a for a in approved if a is not None]
    return Settlement(min([claimed_minor, *named]), deductible_minor)


def check_approved_amount(
    amount_minor: int | None, claimed_minor: int, deductible_minor: int, reason: str | None
) -> None:
    """An adjuster may approve less than claimed, with a reason the customer can read, but
    not more, and not so little that the deductible takes it all."""
    if amount_minor is None:
        return
    if amount_minor > claimed_minor:
        raise InvalidAmountApproved(
            f"{format_minor(amount_minor)} is more than the {format_minor(claimed_minor)} claimed"
        )
    if amount_minor <= deductible_minor:
        raise InvalidAmountApproved(
            f"{format_minor(amount_minor)} is not above the deductible of {format_minor(deductible_minor)}; "
            "reject the claim instead"
        )
    if amount_minor < claimed_minor and not reason:
        raise ReasonRequired("approving less than claimed needs a reason the customer can read")


@dataclass(frozen=True)
class DecisionOutcome:
    status: ClaimStatus  # under_assessment while more approvals are needed
    approvals: tuple[str, ...]


def decide(
    *,
    status: ClaimStatus | str,
    claimant_id: str,
    approvals_required: int,
    approvals: tuple[str, ...],
    adjuster_id: str,
    decision: Decision,
) -> DecisionOutcome:
    """An adjuster's decision on a claim waiting for one.

    Nobody decides on their own claim; an adjuster decides on a claim once (so the
    second approval above the four-eyes threshold comes from someone else); one
    rejection rejects the claim."""
    if ClaimStatus(status) != ClaimStatus.UNDER_ASSESSMENT or approvals_required <= len(approvals):
        raise InvalidTransition(f"the claim is {status}, not waiting for an adjuster's decision")
    if adjuster_id == claimant_id:
        raise OwnClaim("an adjuster may not decide on their own claim")
    if adjuster_id in approvals:
        raise AlreadyDecided("you have already decided on this claim; another adjuster must approve it")
    if decision == Decision.REJECT:
        return DecisionOutcome(ClaimStatus.REJECTED, approvals)
    if decision == Decision.REQUEST_INFO:
        return DecisionOutcome(ClaimStatus.INFO_REQUESTED, approvals)
    approvals = (*approvals, adjuster_id)
    done = len(approvals) >= approvals_required
    return DecisionOutcome(ClaimStatus.APPROVED if done else ClaimStatus.UNDER_ASSESSMENT, approvals)
