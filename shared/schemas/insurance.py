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

# --- the domain's value lists ------------------------------------------------------------------

ClaimStatusName = Literal[
    "reported", "documents_submitted", "under_assessment", "approved", "rejected", "paid", "closed"
]
PolicyStatusName = Literal["pending", "active", "failed"]
DecisionName = Literal["approve", "reject"]
CurrencyName = Literal["CNY"]

ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_-]+$")

# For the examples: Li Wei's checking and savings accounts (shared/sandbox.py), and ids
# shaped like the ones the service issues (uuid4).
DEMO_CHECKING = "5a0e1d3c-0000-4000-8000-000000000101"
DEMO_SAVINGS = "5a0e1d3c-0000-4000-8000-000000000102"
EXAMPLE_QUOTE_ID = "3f2b8c1e-7d4a-4e9b-9c61-2a5d0f8e4b17"
EXAMPLE_POLICY_ID = "b7e4a2d9-1c3f-4a8e-8d52-6f0c9e1a7b34"


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


class ProductPublic(BaseModel):
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


class ProductList(BaseModel):
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
    age: int = Field(ge=0, le=150, description="The insured's age in whole years")
    term_days: int = Field(ge=1, le=3650)
    sum_insured: AmountIn
    currency: CurrencyName = "CNY"


class InsuranceQuotePublic(BaseModel):
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


class PolicyPublic(BaseModel):
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
    premium_payment: SagaPublic | None = None
    history: list[HistoryPublic] | None = None
    links: dict[str, str]


class PolicyPage(BaseModel):
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
    description: str = Field(default="", max_length=500)
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
    name: str = Field(min_length=1, max_length=200)
    size_bytes: int = Field(gt=0, le=50 * 1024 * 1024)
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
            ]
        },
    )
    decision: DecisionName
    reason: str | None = Field(default=None, min_length=1, max_length=500, description="Required to reject")


class DocumentPublic(BaseModel):
    id: str
    kind: str
    name: str
    size_bytes: int
    checksum: str
    created_at: datetime


class DecisionPublic(BaseModel):
    adjuster_id: str
    decision: str
    reason: str | None
    created_at: datetime


class ClaimPublic(BaseModel):
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
    flags: list[str]
    rejection_reason: str | None
    rejection_detail: str | None
    payout_account_id: str
    payout: SagaPublic | None = None
    documents: list[DocumentPublic] | None = None
    decisions: list[DecisionPublic] | None = None
    history: list[HistoryPublic] | None = None
    created_at: datetime
    updated_at: datetime
    links: dict[str, str]


class ClaimPage(BaseModel):
    items: list[ClaimPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")
