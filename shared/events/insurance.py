"""insurance: facts on `insurance.events`, one for every transition of a quote, a policy
or a claim. Policy events are keyed by policy id and claim events by claim id, so each
aggregate's story is read in order. Every claim event names who acted (`actor_id`,
`actor_role`: customer, adjuster, system, or accounts when a reply moved it)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from shared.events.envelope import Message
from shared.events.topics import INSURANCE_EVENTS


class InsuranceEvent(Message):
    TOPIC = INSURANCE_EVENTS


class QuoteIssued(InsuranceEvent):
    TYPE = "insurance.QuoteIssued"
    quote_id: str
    customer_id: str
    product_code: str
    age: int
    term_days: int
    sum_insured_minor: int
    premium_minor: int
    currency: str
    expires_at: datetime

    def key(self) -> str:
        return self.quote_id


class PolicyEvent(InsuranceEvent):
    policy_id: str
    customer_id: str

    def key(self) -> str:
        return self.policy_id


class PolicyPurchaseRequested(PolicyEvent):
    """A purchase started: the premium is being reserved on the customer's account."""

    TYPE = "insurance.PolicyPurchaseRequested"
    quote_id: str
    product_code: str
    account_id: str
    hold_id: str
    premium_minor: int
    currency: str


class PremiumReserved(PolicyEvent):
    TYPE = "insurance.PremiumReserved"
    hold_id: str
    amount_minor: int


class PolicyIssued(PolicyEvent):
    """The premium was captured into internal:insurance-premiums: the policy is active."""

    TYPE = "insurance.PolicyIssued"
    number: str
    product_code: str
    sum_insured_minor: int
    premium_minor: int
    currency: str
    starts_on: date
    ends_on: date
    covered_from: date
    entry_id: str


class PolicyPurchaseFailed(PolicyEvent):
    """No premium was taken (or it was given back): there is no cover."""

    TYPE = "insurance.PolicyPurchaseFailed"
    reason: str
    detail: str = ""


class PremiumRefunded(PolicyEvent):
    """A premium (or its unexpired share) was credited back: captured after its purchase
    had already failed (`reason` purchase_failed), or for a cancellation (cancelled)."""

    TYPE = "insurance.PremiumRefunded"
    credit_id: str
    account_id: str
    amount_minor: int
    reason: str = "purchase_failed"


class PolicyCancelled(PolicyEvent):
    """The customer cancelled: the cover ends today and `refund_minor` goes back
    (`basis`: before_start, cooling_off or pro_rata)."""

    TYPE = "insurance.PolicyCancelled"
    number: str
    refund_minor: int
    currency: str
    basis: str
    credit_id: str | None = None


class PolicyCoverStarted(PolicyEvent):
    """A policy bought for a later start date reached its first day of cover."""

    TYPE = "insurance.PolicyCoverStarted"
    number: str
    starts_on: date
    ends_on: date


class PolicyExpired(PolicyEvent):
    """The cover's last day has passed (on the sandbox clock)."""

    TYPE = "insurance.PolicyExpired"
    number: str
    ends_on: date
    renewable_until: date


class PolicyLapsed(PolicyEvent):
    """An expired policy was not renewed within the renewal grace period."""

    TYPE = "insurance.PolicyLapsed"
    number: str
    ends_on: date


class ClaimEvent(InsuranceEvent):
    claim_id: str
    policy_id: str
    customer_id: str
    status: str
    actor_id: str
    actor_role: str

    def key(self) -> str:
        return self.claim_id


class ClaimReported(ClaimEvent):
    TYPE = "insurance.ClaimReported"
    number: str
    kind: str
    incident_date: date
    amount_minor: int
    currency: str


class ClaimDocumentSubmitted(ClaimEvent):
    TYPE = "insurance.ClaimDocumentSubmitted"
    document_id: str
    document_kind: str
    name: str
    size_bytes: int
    checksum: str


class ClaimAssessmentStarted(ClaimEvent):
    TYPE = "insurance.ClaimAssessmentStarted"


class ClaimReferredToAdjuster(ClaimEvent):
    """The rules passed but the amount (or a flag) needs `approvals_required` adjusters."""

    TYPE = "insurance.ClaimReferredToAdjuster"
    approvals_required: int
    flags: list[str]


class FraudFlagRaised(BaseModel):
    """One fraud rule's flag: the rule, why, the ids that show it (another claim, its
    document), and whether the sandbox magic value forced it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    reason: str
    evidence: list[str]
    forced: bool = False


class ClaimFlagged(ClaimEvent):
    """Fraud rules flagged the claim when it was submitted (only rules that had not
    flagged it before): it needs two different adjusters whatever its amount. For the
    compliance side and the console; the customer is not told."""

    TYPE = "insurance.ClaimFlagged"
    number: str
    amount_minor: int
    currency: str
    flags: list[FraudFlagRaised]


class ClaimApprovalRecorded(ClaimEvent):
    """One adjuster approved; more must (four eyes)."""

    TYPE = "insurance.ClaimApprovalRecorded"
    approvals: list[str]
    approvals_required: int


class ClaimApproved(ClaimEvent):
    """Approved (automatically, or by the adjusters named); the payout starts."""

    TYPE = "insurance.ClaimApproved"
    amount_minor: int
    currency: str
    automatic: bool
    approved_by: list[str]
    payout_account_id: str
    credit_id: str
    # amount_minor is what is paid: the approved amount less the product's deductible.
    approved_minor: int = 0
    deductible_minor: int = 0


class ClaimInfoRequested(ClaimEvent):
    """An adjuster returned the claim to the customer for more documents or answers; the
    customer adds them and submits it again."""

    TYPE = "insurance.ClaimInfoRequested"
    message: str


class ClaimRejected(ClaimEvent):
    TYPE = "insurance.ClaimRejected"
    reason: str
    detail: str = ""


class ClaimPaid(ClaimEvent):
    """accounts confirmed the credit from internal:insurance-claims."""

    TYPE = "insurance.ClaimPaid"
    credit_id: str
    account_id: str
    amount_minor: int
    currency: str
    entry_id: str


class ClaimPayoutFailed(ClaimEvent):
    TYPE = "insurance.ClaimPayoutFailed"
    credit_id: str
    reason: str
    detail: str = ""


class ClaimClosed(ClaimEvent):
    TYPE = "insurance.ClaimClosed"
