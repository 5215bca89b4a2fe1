"""Public request and response bodies of the insurance API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.insurance import domain, store
from shared.money import AmountIn, format_minor

ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_-]+$")
ClaimStatusName = Literal[
    "reported", "documents_submitted", "under_assessment", "approved", "rejected", "paid", "closed"
]
PolicyStatusName = Literal["pending", "active", "failed"]


def money(minor: int, currency: str = domain.CURRENCY) -> str:
    return format_minor(minor, currency)


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

    @classmethod
    def of(cls, p: domain.Product) -> ProductPublic:
        return cls(
            code=p.code,
            name=p.name,
            description=p.description,
            currency=p.currency,
            min_age=p.min_age,
            max_age=p.max_age,
            age_bands=[AgeBandPublic(**b.__dict__) for b in p.age_bands],
            terms=[TermPublic(**t.__dict__) for t in p.terms],
            sum_insured_min=money(p.sum_insured_min_minor, p.currency),
            sum_insured_max=money(p.sum_insured_max_minor, p.currency),
            sum_insured_step=money(p.sum_insured_step_minor, p.currency),
            min_premium=money(p.min_premium_minor, p.currency),
            waiting_days=p.waiting_days,
            exclusions=list(p.exclusions),
            claim_kinds=[
                ClaimKindPublic(code=k.code, name=k.name, required_documents=list(k.required_documents))
                for k in p.claim_kinds
            ],
            version=p.version,
        )


class ProductList(BaseModel):
    items: list[ProductPublic]


class QuoteCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"product_code": "personal_accident", "age": 30, "term_days": 365, "sum_insured": "100000.00"}]
        },
    )
    product_code: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=0, le=150, description="The insured's age in whole years")
    term_days: int = Field(ge=1, le=3650)
    sum_insured: AmountIn
    currency: Literal["CNY"] = "CNY"


class QuotePublic(BaseModel):
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

    @classmethod
    def of(cls, q: store.Quote) -> QuotePublic:
        return cls(
            id=q.id,
            product_code=q.product_code,
            age=q.age,
            term_days=q.term_days,
            sum_insured=money(q.sum_insured_minor, q.currency),
            sum_insured_minor=q.sum_insured_minor,
            premium=money(q.premium_minor, q.currency),
            premium_minor=q.premium_minor,
            currency=q.currency,
            created_at=q.created_at,
            expires_at=q.expires_at,
            policy_id=q.policy_id,
            links={"self": f"/v1/insurance/quotes/{q.id}", "product": f"/v1/insurance/products/{q.product_code}"},
        )


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

    @classmethod
    def of(cls, h: store.History) -> HistoryPublic:
        return cls(
            at=h.at,
            action=h.action,
            from_status=h.from_status,
            to_status=h.to_status,
            actor_id=h.actor_id,
            actor_role=h.actor_role,
            detail=h.detail or {},
            event_id=h.event_id,
        )


class SagaPublic(BaseModel):
    id: str = Field(description="The hold id or credit id accounts knows it by")
    step: str
    attempts: int
    reason: str | None
    detail: str | None
    entry_id: str | None

    @classmethod
    def of(cls, s: store.Saga | None) -> SagaPublic | None:
        if s is None:
            return None
        return cls(id=s.id, step=s.step, attempts=s.attempts, reason=s.reason, detail=s.detail, entry_id=s.entry_id)


# --- policies -------------------------------------------------------------------------------------


class PolicyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"quote_id": "<quote id>", "account_id": "<account id>"}]}
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

    @classmethod
    def of(
        cls,
        p: store.Policy,
        *,
        remaining_minor: int | None = None,
        saga: store.Saga | None = None,
        history: list[store.History] | None = None,
    ) -> PolicyPublic:
        remaining = p.sum_insured_minor if remaining_minor is None else remaining_minor
        return cls(
            id=p.id,
            number=p.number,
            customer_id=p.customer_id,
            product_code=p.product_code,
            status=p.status,  # type: ignore[arg-type]
            failure_reason=p.failure_reason,
            failure_detail=p.failure_detail,
            quote_id=p.quote_id,
            account_id=p.account_id,
            insured_age=p.insured_age,
            term_days=p.term_days,
            waiting_days=p.waiting_days,
            sum_insured=money(p.sum_insured_minor, p.currency),
            sum_insured_minor=p.sum_insured_minor,
            remaining_sum_insured=money(remaining, p.currency),
            remaining_sum_insured_minor=remaining,
            premium=money(p.premium_minor, p.currency),
            premium_minor=p.premium_minor,
            currency=p.currency,
            starts_on=p.starts_on,
            ends_on=p.ends_on,
            covered_from=p.covered_from,
            created_at=p.created_at,
            issued_at=p.issued_at,
            premium_payment=SagaPublic.of(saga),
            history=[HistoryPublic.of(h) for h in history] if history is not None else None,
            links={"self": f"/v1/insurance/policies/{p.id}", "account": f"/v1/accounts/{p.account_id}"},
        )


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
                    "policy_id": "<policy id>",
                    "kind": "accidental_injury",
                    "incident_date": "2025-01-15",
                    "amount": "500.00",
                    "description": "Sprained an ankle on the stairs",
                }
            ]
        },
    )
    policy_id: str = ID
    kind: str = Field(min_length=1, max_length=40)
    incident_date: date
    amount: AmountIn
    currency: Literal["CNY"] = "CNY"
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
            "examples": [{"kind": "medical_invoice", "name": "invoice.pdf", "size_bytes": 48213, "checksum": "a" * 64}]
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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"decision": "approve"}]})
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, min_length=1, max_length=500, description="Required to reject")


class DocumentPublic(BaseModel):
    id: str
    kind: str
    name: str
    size_bytes: int
    checksum: str
    created_at: datetime

    @classmethod
    def of(cls, d: store.ClaimDocument) -> DocumentPublic:
        return cls(
            id=d.id, kind=d.kind, name=d.name, size_bytes=d.size_bytes, checksum=d.checksum, created_at=d.created_at
        )


class DecisionPublic(BaseModel):
    adjuster_id: str
    decision: str
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, d: store.ClaimDecision) -> DecisionPublic:
        return cls(adjuster_id=d.adjuster_id, decision=d.decision, reason=d.reason, created_at=d.created_at)


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

    @classmethod
    def of(
        cls,
        c: store.Claim,
        *,
        decisions: list[store.ClaimDecision] | None = None,
        documents: list[store.ClaimDocument] | None = None,
        history: list[store.History] | None = None,
        payout: store.Saga | None = None,
    ) -> ClaimPublic:
        approvals = [d.adjuster_id for d in decisions or [] if d.decision == "approve"]
        return cls(
            id=c.id,
            number=c.number,
            policy_id=c.policy_id,
            customer_id=c.customer_id,
            kind=c.kind,
            cause=c.cause,
            incident_date=c.incident_date,
            amount=money(c.amount_minor, c.currency),
            amount_minor=c.amount_minor,
            currency=c.currency,
            description=c.description,
            status=c.status,  # type: ignore[arg-type]
            awaiting_adjuster=c.status == domain.ClaimStatus.UNDER_ASSESSMENT and c.approvals_required > len(approvals),
            approvals_required=c.approvals_required,
            approvals=approvals,
            flags=list(c.flags or []),
            rejection_reason=c.rejection_reason,
            rejection_detail=c.rejection_detail,
            payout_account_id=c.payout_account_id,
            payout=SagaPublic.of(payout),
            documents=None if documents is None else [DocumentPublic.of(d) for d in documents],
            decisions=None if decisions is None else [DecisionPublic.of(d) for d in decisions],
            history=[HistoryPublic.of(h) for h in history] if history is not None else None,
            created_at=c.created_at,
            updated_at=c.updated_at,
            links={
                "self": f"/v1/insurance/claims/{c.id}",
                "policy": f"/v1/insurance/policies/{c.policy_id}",
                "documents": f"/v1/insurance/claims/{c.id}/documents",
            },
        )


class ClaimPage(BaseModel):
    items: list[ClaimPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")
