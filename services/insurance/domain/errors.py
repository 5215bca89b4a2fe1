"""Domain errors: each names its stable problem slug (`code`); the API maps them to HTTP
statuses in one table (`api.ERROR_STATUSES`)."""

from __future__ import annotations

from shared.errors import DomainError


class InsuranceError(DomainError):
    """A rule refused something; nothing was changed."""

    code = "insurance-error"


class NotFound(InsuranceError):
    """Missing, or another customer's: the two are indistinguishable on purpose."""

    code = "not-found"


class UnknownProduct(NotFound):
    pass


class AgeOutOfRange(InsuranceError):
    code = "age-out-of-range"


class TermNotOffered(InsuranceError):
    code = "term-not-offered"


class SumInsuredOutOfRange(InsuranceError):
    code = "sum-insured-out-of-range"


class QuoteExpired(InsuranceError):
    code = "quote-expired"


class QuoteUsed(InsuranceError):
    code = "quote-used"


class UnsuitableAccount(InsuranceError):
    code = "unsuitable-account"


class PolicyNotActive(InsuranceError):
    code = "policy-not-active"


class NotCovered(InsuranceError):
    code = "claim-kind-not-covered"


class IncidentInFuture(InsuranceError):
    code = "incident-in-future"


class AboveSumInsured(InsuranceError):
    code = "above-sum-insured"


class UnknownDocumentKind(InsuranceError):
    code = "unknown-document-kind"


class InvalidTransition(InsuranceError):
    """The claim's status does not allow this step of the SOP."""

    code = "invalid-transition"


class OwnClaim(InsuranceError):
    code = "own-claim"


class AlreadyDecided(InsuranceError):
    code = "already-decided"


class IdempotencyKeyReused(InsuranceError):
    code = "idempotency-key-reused"


class IncidentOutsideCover(InsuranceError):
    """The incident happened before the cover started or after it ended."""

    code = "incident-outside-cover"


class InvalidStartDate(InsuranceError):
    code = "invalid-start-date"


class NotCancellable(InsuranceError):
    code = "policy-not-cancellable"


class PolicyHasClaims(InsuranceError):
    code = "policy-has-claims"


class NotRenewable(InsuranceError):
    code = "policy-not-renewable"


class PolicyNotIssued(InsuranceError):
    """Its premium was never collected: there is no cover for an e-policy to show."""

    code = "policy-not-issued"


class AlreadyRenewed(InsuranceError):
    code = "already-renewed"


class InvalidPerson(InsuranceError):
    code = "invalid-insured-person"


class BeneficiaryShares(InsuranceError):
    code = "beneficiary-shares"


class InvalidAmountApproved(InsuranceError):
    code = "invalid-approved-amount"


class ReasonRequired(InsuranceError):
    code = "reason-required"


class DocumentTooLarge(InsuranceError):
    code = "document-too-large"


class UnsupportedDocumentType(InsuranceError):
    """The file is not one of the accepted types, by its declared type or by its bytes."""

    code = "unsupported-document-type"


class TooManyDocuments(InsuranceError):
    code = "too-many-documents"
