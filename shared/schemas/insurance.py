"""Public request and response bodies of the insurance API; the gateway serves the same
shapes. Money is a decimal string, also as integer fen (`*_minor`).

Pure pydantic: the value lists below copy the insurance domain's, and
tests/unit/insurance/test_schemas_match_domain.py keeps them equal (and checks that the
examples name real products, claim kinds, document kinds and demo accounts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.money import AmountIn
from shared.schemas import OneLine, Prose, Whole

# --- the domain's value lists ------------------------------------------------------------------

DocumentTypeName = Literal["application/pdf", "image/jpeg", "image/png"]
ClaimStatusName = Literal[
    "reported", "documents_submitted", "under_assessment", "info_requested", "approved", "rejected", "paid", "closed"
]
# The fraud rules that flag a claim (services/insurance/domain/fraud.py `FraudRule`).
FraudRuleName = Literal["shared_document", "early_claim", "frequent_claims", "near_sum_insured"]
PolicyStatusName = Literal["pending", "active", "expired", "lapsed", "cancelled", "failed"]
RefundBasisName = Literal["before_start", "cooling_off", "pro_rata"]
IdTypeName = Literal["resident_id", "passport"]
InsuredRelationshipName = Literal["self", "spouse", "child", "parent"]
BeneficiaryRelationshipName = Literal["spouse", "child", "parent", "sibling", "other"]
DecisionName = Literal["approve", "reject", "request_info"]
CurrencyName = Literal["CNY"]

ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_-]+$")

# For the examples: Li Wei's checking and savings accounts (shared/sandbox.py), and ids
# shaped like the ones the service issues (uuid4).
DEMO_CUSTOMER = "9b1c7a2e-0000-4000-8000-000000000001"
DEMO_CHECKING = "5a0e1d3c-0000-4000-8000-000000000101"
DEMO_SAVINGS = "5a0e1d3c-0000-4000-8000-000000000102"
EXAMPLE_QUOTE_ID = "3f2b8c1e-7d4a-4e9b-9c61-2a5d0f8e4b17"
EXAMPLE_POLICY_ID = "b7e4a2d9-1c3f-4a8e-8d52-6f0c9e1a7b34"
EXAMPLE_CLAIM_ID = "5e8a1c3f-9b2d-4a6e-b1c7-3d0f8e2a6b95"


# --- products and quotes --------------------------------------------------------------------


class AgeBandPublic(BaseModel):
    min_age: int
    max_age: int
    annual_rate_ppm: int = Field(description="Annual premium in parts per million of the sum insured")


class TermPublic(BaseModel):
    days: int
    factor_pct: int = Field(description="Share of the annual premium this term costs (short-term rate table)")


class ClaimKindPublic(BaseModel):
    code: str
    name: str
    required_documents: list[str]


PRODUCT_EXAMPLE: dict[str, Any] = {
    "code": "personal_accident",
    "name": "Personal accident",
    "description": "Accidental injury and disability, worldwide, from the day it starts.",
    "currency": "CNY",
    "min_age": 18,
    "max_age": 65,
    "age_bands": [
        {"min_age": 18, "max_age": 40, "annual_rate_ppm": 600},
        {"min_age": 41, "max_age": 55, "annual_rate_ppm": 900},
        {"min_age": 56, "max_age": 65, "annual_rate_ppm": 1500},
    ],
    "terms": [
        {"days": 30, "factor_pct": 15},
        {"days": 90, "factor_pct": 40},
        {"days": 180, "factor_pct": 70},
        {"days": 365, "factor_pct": 100},
    ],
    "sum_insured_min": "10000.00",
    "sum_insured_max": "1000000.00",
    "sum_insured_step": "10000.00",
    "min_premium": "5.00",
    "waiting_days": 0,
    "exclusions": ["self_inflicted", "intoxication", "extreme_sports", "war"],
    "claim_kinds": [
        {
            "code": "accidental_injury",
            "name": "Accidental injury (medical costs)",
            "required_documents": ["accident_report", "medical_invoice"],
        },
        {
            "code": "accidental_disability",
            "name": "Disability after an accident",
            "required_documents": ["accident_report", "disability_assessment"],
        },
    ],
    "version": 1,
    "cooling_off_days": 15,
    "deductible": "0.00",
}


class ProductPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PRODUCT_EXAMPLE]})

    code: str
    name: str
    description: str
    currency: str
    min_age: int
    max_age: int
    age_bands: list[AgeBandPublic]
    terms: list[TermPublic]
    sum_insured_min: str
    sum_insured_max: str
    sum_insured_step: str
    min_premium: str
    waiting_days: int
    exclusions: list[str]
    claim_kinds: list[ClaimKindPublic]
    version: int
    cooling_off_days: int = Field(
        description="Days after issue in which cancelling refunds the whole premium (犹豫期); later, pro rata"
    )
    deductible: str = Field(description="Taken from every approved claim before it is paid (per claim)")


PRODUCT_LIST_EXAMPLE: dict[str, Any] = {"items": [PRODUCT_EXAMPLE]}


class ProductList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PRODUCT_LIST_EXAMPLE]})

    items: list[ProductPublic]


# Named Insurance*: the gateway serves securities' market QuotePublic too, and OpenAPI
# components are keyed by class name.


class InsuranceQuoteCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"},
                {"product_code": "travel", "age": 28, "term_days": 15, "sum_insured": "50000.00"},
                {"product_code": "phone_screen", "age": 25, "term_days": 365, "sum_insured": "3000.00"},
            ]
        },
    )
    product_code: str = Field(min_length=1, max_length=40)
    age: Whole = Field(ge=0, le=150, description="The insured's age in whole years")
    term_days: Whole = Field(ge=1, le=3650)
    sum_insured: AmountIn
    currency: CurrencyName = "CNY"


QUOTE_EXAMPLE: dict[str, Any] = {
    "id": EXAMPLE_QUOTE_ID,
    "product_code": "personal_accident",
    "age": 30,
    "term_days": 365,
    "sum_insured": "100000.00",
    "sum_insured_minor": 10000000,
    "premium": "60.00",
    "premium_minor": 6000,
    "currency": "CNY",
    "created_at": "2025-06-02T09:00:00Z",
    "expires_at": "2025-06-02T09:15:00Z",
    "policy_id": None,
    "links": {
        "self": f"/v1/insurance/quotes/{EXAMPLE_QUOTE_ID}",
        "product": "/v1/insurance/products/personal_accident",
    },
}


class InsuranceQuotePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [QUOTE_EXAMPLE]})

    id: str
    product_code: str
    age: int
    term_days: int
    sum_insured: str
    sum_insured_minor: int
    premium: str
    premium_minor: int
    currency: str
    created_at: datetime
    expires_at: datetime
    policy_id: str | None
    links: dict[str, str]


# --- history ------------------------------------------------------------------------------------


class HistoryPublic(BaseModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    actor_id: str
    actor_role: str
    detail: dict[str, Any]
    event_id: str | None


class SagaPublic(BaseModel):
    id: str = Field(description="The hold id or credit id accounts knows it by")
    step: str
    attempts: int
    reason: str | None
    detail: str | None
    entry_id: str | None


# --- policies -------------------------------------------------------------------------------------


class InsuredPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine = Field(min_length=1, max_length=50)
    id_type: IdTypeName
    id_number: str = Field(
        min_length=5,
        max_length=18,
        description="A resident ID (18 characters, check digit per GB 11643; its birth date must give the "
        "quoted age) or a passport number",
    )
    relationship: InsuredRelationshipName = Field(description="The insured's relation to you, the policyholder")


class BeneficiaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine = Field(min_length=1, max_length=50)
    id_type: IdTypeName
    id_number: str = Field(min_length=5, max_length=18)
    relationship: BeneficiaryRelationshipName = Field(description="The beneficiary's relation to the insured")
    share_pct: Whole = Field(ge=1, le=100, description="Whole percent; the shares sum to 100")


class PersonPublic(BaseModel):
    name: str
    id_type: IdTypeName
    id_number: str = Field(description="Masked: the first 3 and last 4 characters")
    relationship: str
    share_pct: int | None = None


class PolicyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"quote_id": EXAMPLE_QUOTE_ID, "account_id": DEMO_CHECKING},
                {"quote_id": EXAMPLE_QUOTE_ID, "account_id": DEMO_SAVINGS},
            ]
        },
    )
    quote_id: str = ID
    account_id: str = ID
    starts_on: date | None = Field(
        default=None,
        description="First day of cover, today up to 90 days ahead (a trip next week); default: the day it is paid",
    )
    insured: InsuredPersonIn | None = Field(default=None, description="Who is covered; default: you")
    beneficiaries: list[BeneficiaryIn] = Field(
        default_factory=list, max_length=5, description="Who receives the benefit; none: the insured's legal heirs"
    )


class PolicyRenew(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"account_id": DEMO_CHECKING}]})

    account_id: str = ID


POLICY_EXAMPLE: dict[str, Any] = {
    "id": EXAMPLE_POLICY_ID,
    "number": "PA-B7E4A2D91C3F",
    "customer_id": DEMO_CUSTOMER,
    "product_code": "personal_accident",
    "status": "active",
    "failure_reason": None,
    "failure_detail": None,
    "quote_id": EXAMPLE_QUOTE_ID,
    "account_id": DEMO_CHECKING,
    "insured_age": 30,
    "term_days": 365,
    "waiting_days": 0,
    "sum_insured": "100000.00",
    "sum_insured_minor": 10000000,
    "remaining_sum_insured": "100000.00",
    "remaining_sum_insured_minor": 10000000,
    "premium": "60.00",
    "premium_minor": 6000,
    "currency": "CNY",
    "starts_on": "2025-06-02",
    "ends_on": "2026-06-01",
    "covered_from": "2025-06-02",
    "created_at": "2025-06-02T09:05:00Z",
    "issued_at": "2025-06-02T09:05:01Z",
    "requested_starts_on": None,
    "cooling_off_until": "2025-06-17",
    "renewal_of": None,
    "renewed_by": None,
    "cancelled_at": None,
    "refund": None,
    "refund_minor": None,
    "refund_basis": None,
    "refund_payment": None,
    "insured": None,
    "beneficiaries": [],
    "premium_payment": {
        "id": "f0c2b8d4-1e6a-4a3f-9d75-8b2e4c6a0f19",
        "step": "done",
        "attempts": 1,
        "reason": None,
        "detail": None,
        "entry_id": "6b3d9f1a-7c2e-4d8b-a0f5-2e9c1b7d4a63",
    },
    "history": None,
    "links": {
        "self": f"/v1/insurance/policies/{EXAMPLE_POLICY_ID}",
        "account": f"/v1/accounts/{DEMO_CHECKING}",
    },
}


class PolicyPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [POLICY_EXAMPLE]})

    id: str
    number: str
    customer_id: str
    product_code: str
    status: PolicyStatusName
    failure_reason: str | None
    failure_detail: str | None
    quote_id: str
    account_id: str
    insured_age: int
    term_days: int
    waiting_days: int
    sum_insured: str
    sum_insured_minor: int
    remaining_sum_insured: str
    remaining_sum_insured_minor: int
    premium: str
    premium_minor: int
    currency: str
    starts_on: date | None
    ends_on: date | None
    covered_from: date | None = Field(description="First day an incident is covered (after the waiting period)")
    created_at: datetime
    issued_at: datetime | None
    requested_starts_on: date | None = Field(description="The start of cover asked for at purchase, if any")
    cooling_off_until: date | None = Field(description="Last day a cancellation refunds the whole premium")
    renewal_of: str | None = Field(description="The policy this one renews")
    renewed_by: str | None = Field(description="The policy that renews this one")
    cancelled_at: datetime | None
    refund: str | None = Field(description="What a cancellation refunds")
    refund_minor: int | None
    refund_basis: RefundBasisName | None
    refund_payment: SagaPublic | None = None
    insured: PersonPublic | None = Field(description="The insured person named at purchase (none: the policyholder)")
    beneficiaries: list[PersonPublic]
    premium_payment: SagaPublic | None = None
    history: list[HistoryPublic] | None = None
    links: dict[str, str]


POLICY_PAGE_EXAMPLE: dict[str, Any] = {"items": [POLICY_EXAMPLE], "next_cursor": None}


class PolicyPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [POLICY_PAGE_EXAMPLE]})

    items: list[PolicyPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


# --- claims ---------------------------------------------------------------------------------------


class ClaimCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "policy_id": EXAMPLE_POLICY_ID,
                    "kind": "accidental_injury",
                    "incident_date": "2025-01-15",
                    "amount": "500.00",
                    "description": "Sprained an ankle on the stairs",
                },
                {
                    "policy_id": EXAMPLE_POLICY_ID,
                    "kind": "screen_damage",
                    "incident_date": "2025-03-02",
                    "amount": "899.00",
                    "description": "Dropped the phone on the metro platform",
                    "cause": "accidental_drop",
                    "payout_account_id": DEMO_SAVINGS,
                },
            ]
        },
    )
    policy_id: str = ID
    kind: str = Field(min_length=1, max_length=40)
    incident_date: date
    amount: AmountIn
    currency: CurrencyName = "CNY"
    description: Prose = Field(default="", max_length=500)
    cause: str | None = Field(
        default=None, pattern=r"^[a-z_]{1,40}$", description="What caused it; an excluded cause is not paid"
    )
    payout_account_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9:_-]+$",
        description="Defaults to the account that paid the premium",
    )


class DocumentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "medical_invoice",
                    "name": "invoice.pdf",
                    "size_bytes": 48213,
                    "checksum": "45e4e1abc696f5c0979a6f693d350de00aba1b05c0688119b3340381318f9497",
                },
                {
                    "kind": "accident_report",
                    "name": "accident-report.jpg",
                    "size_bytes": 1204877,
                    "checksum": "3bd54657478c9c13291cfcfa396117f65d0ee43076e16285141c71705e28a99a",
                },
            ]
        },
    )
    kind: str = Field(min_length=1, max_length=40)
    name: OneLine = Field(min_length=1, max_length=200)
    size_bytes: Whole = Field(gt=0, le=50 * 1024 * 1024)
    checksum: str = Field(description="SHA-256 of the file, hex", pattern=r"^[0-9a-fA-F]{64}$")

    @field_validator("checksum")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class DecisionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve"},
                {"decision": "reject", "reason": "The invoice is dated before the policy's cover started"},
                {"decision": "approve", "amount": "3200.00", "reason": "The invoice includes a non-covered item"},
                {"decision": "request_info", "reason": "Please upload the itemised hospital invoice"},
            ]
        },
    )
    decision: DecisionName
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Required to reject, to ask for more information, and to approve less than claimed",
    )
    amount: AmountIn | None = Field(
        default=None, description="Approve this much (at most the amount claimed); the deductible is taken from it"
    )


# A claim's document as a file (services/insurance/domain/files.py holds the rules): the
# multipart body the insurance service and the gateway both take and document.
DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")
DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
# The upload's whole body: the file and a little multipart framing around it.
DOCUMENT_BODY_BYTES = DOCUMENT_MAX_BYTES + 64 * 1024
MULTIPART = "multipart/form-data"
DOCUMENT_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 40,
                            "description": "What the document is (a product's `required_documents` say which "
                            "a claim needs)",
                            "examples": ["medical_invoice"],
                        },
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": f"A PDF, JPEG or PNG of at most {DOCUMENT_MAX_BYTES} bytes; its first "
                            "bytes must match its declared type",
                        },
                    },
                },
                "encoding": {"file": {"contentType": ", ".join(DOCUMENT_TYPES)}},
            },
            "application/json": {"schema": DocumentCreate.model_json_schema()},
        },
    }
}
# Why an upload is refused, by status (problem+json).
DOCUMENT_REFUSALS = {
    400: "The body is not valid JSON or multipart",
    409: "The claim takes no more documents (its status, or it has the most it may)",
    413: f"The file is larger than {DOCUMENT_MAX_BYTES} bytes",
    415: "The body or the file is not of an accepted type (by its declared type or its bytes)",
    422: "A field is missing or invalid (`errors` names it), or the kind is unknown",
}
BINARY_FILE = {"type": "string", "format": "binary"}
FILE_HEADERS = {
    "ETag": {"description": "The file's SHA-256, quoted", "schema": {"type": "string"}},
    "Content-Disposition": {"description": "attachment, with the file's safe name", "schema": {"type": "string"}},
}


def file_answer(media_types: tuple[str, ...], what: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of a route that answers a file: its types, as binary, and its headers."""
    return {
        200: {
            "description": what,
            "content": {t: {"schema": BINARY_FILE} for t in media_types},
            "headers": FILE_HEADERS,
        }
    }


DOCUMENT_FILE = file_answer(DOCUMENT_TYPES, "The file as it was uploaded")
EPOLICY_FILE = file_answer(("application/pdf",), "The e-policy, a PDF")


class DocumentPublic(BaseModel):
    """A claim's document. An uploaded file has its `content_type` and a `content` link to
    download it; a document added as metadata only has neither. `name`, `checksum` and
    `created_at` are kept for older clients: the same as `filename`, `sha256` and
    `uploaded_at`."""

    id: str
    kind: str
    filename: str = Field(description="The file's name, made safe (ASCII letters, digits, `._- `)")
    size_bytes: int
    content_type: DocumentTypeName | None = Field(
        description="The file's type, checked against its first bytes; null for metadata only"
    )
    sha256: str = Field(description="SHA-256 of the file, hex; the download's ETag")
    uploaded_at: datetime
    content: str | None = Field(description="Where to download the file; null for metadata only")
    name: str
    checksum: str
    created_at: datetime


class DecisionPublic(BaseModel):
    adjuster_id: str
    decision: str
    reason: str | None
    amount: str | None = None
    created_at: datetime


class ClaimFlagPublic(BaseModel):
    """A fraud rule that flagged the claim when it was submitted: shown to adjusters,
    operators and compliance, never to the customer."""

    rule: FraudRuleName
    reason: str
    evidence: list[str] = Field(description="The ids that show it: the other claims and their documents")
    forced: bool = Field(description="Raised by the sandbox magic value `#sandbox-flag:<rule>`, not by the facts")
    flagged_at: datetime


CLAIM_EXAMPLE: dict[str, Any] = {
    "id": EXAMPLE_CLAIM_ID,
    "number": "CL-5E8A1C3F9B2D",
    "policy_id": EXAMPLE_POLICY_ID,
    "customer_id": DEMO_CUSTOMER,
    "kind": "accidental_injury",
    "cause": None,
    "incident_date": "2025-06-20",
    "amount": "5000.00",
    "amount_minor": 500000,
    "currency": "CNY",
    "description": "Broke a wrist falling off a bicycle",
    "status": "under_assessment",
    "awaiting_adjuster": True,
    "approvals_required": 1,
    "approvals": [],
    "flags": [],
    "rejection_reason": None,
    "rejection_detail": None,
    "approved_amount": None,
    "approved_amount_minor": None,
    "deductible": "0.00",
    "deductible_minor": 0,
    "payout_amount": None,
    "payout_amount_minor": None,
    "info_request": None,
    "payout_account_id": DEMO_CHECKING,
    "payout": None,
    "documents": [
        {
            "id": "2c7e4a9b-5d1f-4b3e-8c6a-0f9d2e5b7a14",
            "kind": "medical_invoice",
            "filename": "invoice.pdf",
            "size_bytes": 48213,
            "content_type": "application/pdf",
            "sha256": "45e4e1abc696f5c0979a6f693d350de00aba1b05c0688119b3340381318f9497",
            "uploaded_at": "2025-06-21T10:02:00Z",
            "content": f"/v1/insurance/claims/{EXAMPLE_CLAIM_ID}/documents/"
            "2c7e4a9b-5d1f-4b3e-8c6a-0f9d2e5b7a14/content",
            "name": "invoice.pdf",
            "checksum": "45e4e1abc696f5c0979a6f693d350de00aba1b05c0688119b3340381318f9497",
            "created_at": "2025-06-21T10:02:00Z",
        },
        {
            "id": "8a1f6c3d-2e9b-4d7a-b5c0-4e8f1a3d6c27",
            "kind": "accident_report",
            "filename": "accident-report.jpg",
            "size_bytes": 1204877,
            "content_type": "image/jpeg",
            "sha256": "3bd54657478c9c13291cfcfa396117f65d0ee43076e16285141c71705e28a99a",
            "uploaded_at": "2025-06-21T10:03:00Z",
            "content": f"/v1/insurance/claims/{EXAMPLE_CLAIM_ID}/documents/"
            "8a1f6c3d-2e9b-4d7a-b5c0-4e8f1a3d6c27/content",
            "name": "accident-report.jpg",
            "checksum": "3bd54657478c9c13291cfcfa396117f65d0ee43076e16285141c71705e28a99a",
            "created_at": "2025-06-21T10:03:00Z",
        },
    ],
    "decisions": [],
    "history": [
        {
            "at": "2025-06-21T10:00:00Z",
            "action": "reported",
            "from_status": None,
            "to_status": "reported",
            "actor_id": DEMO_CUSTOMER,
            "actor_role": "customer",
            "detail": {},
            "event_id": None,
        }
    ],
    "created_at": "2025-06-21T10:00:00Z",
    "updated_at": "2025-06-21T10:05:00Z",
    "links": {
        "self": f"/v1/insurance/claims/{EXAMPLE_CLAIM_ID}",
        "policy": f"/v1/insurance/policies/{EXAMPLE_POLICY_ID}",
        "documents": f"/v1/insurance/claims/{EXAMPLE_CLAIM_ID}/documents",
    },
}


class ClaimPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_EXAMPLE]})

    id: str
    number: str
    policy_id: str
    customer_id: str
    kind: str
    cause: str | None
    incident_date: date
    amount: str
    amount_minor: int
    currency: str
    description: str
    status: ClaimStatusName
    awaiting_adjuster: bool
    approvals_required: int
    approvals: list[str]
    flags: list[str] = Field(
        description="What sent the claim to adjusters: `sandbox_review`, and for staff the fraud rules' names"
    )
    fraud_flags: list[ClaimFlagPublic] | None = Field(
        default=None,
        description="The fraud rules that flagged it, with reasons and evidence: staff views only (null for customers)",
    )
    rejection_reason: str | None
    rejection_detail: str | None
    approved_amount: str | None = Field(description="What was approved (the amount claimed, or less with a reason)")
    approved_amount_minor: int | None
    deductible: str = Field(description="The product's deductible, taken from the approved amount")
    deductible_minor: int
    payout_amount: str | None = Field(description="What is paid: the approved amount less the deductible")
    payout_amount_minor: int | None
    info_request: str | None = Field(description="What the adjuster last asked the customer for")
    payout_account_id: str
    payout: SagaPublic | None = None
    documents: list[DocumentPublic] | None = None
    decisions: list[DecisionPublic] | None = None
    history: list[HistoryPublic] | None = None
    created_at: datetime
    updated_at: datetime
    links: dict[str, str]


CLAIM_PAGE_EXAMPLE: dict[str, Any] = {"items": [CLAIM_EXAMPLE], "next_cursor": None}


class ClaimPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_PAGE_EXAMPLE]})

    items: list[ClaimPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")
