"""Domain errors: each names the stable problem slug and the HTTP status the API answers
with, so the mapping lives next to the rule rather than in every route."""

from __future__ import annotations


class InsuranceError(Exception):
    """A rule refused something; nothing was changed."""

    code = "insurance-error"
    status = 422

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(InsuranceError):
    """Missing, or another customer's: the two are indistinguishable on purpose."""

    code = "not-found"
    status = 404


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
    status = 409


class UnsuitableAccount(InsuranceError):
    code = "unsuitable-account"


class PolicyNotActive(InsuranceError):
    code = "policy-not-active"
    status = 409


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
    status = 409


class OwnClaim(InsuranceError):
    code = "own-claim"
    status = 403


class AlreadyDecided(InsuranceError):
    code = "already-decided"
    status = 409


class IdempotencyKeyReused(InsuranceError):
    code = "idempotency-key-reused"
