"""The public bodies (shared/schemas/insurance.py) built from the catalogue's products
and the store's rows."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.insurance import domain, store
from services.insurance.domain.fraud import RULE_NAMES
from shared.clock import BANK_TZ
from shared.money import format_minor
from shared.schemas.insurance import (
    AgeBandPublic,
    ClaimFlagPublic,
    ClaimKindPublic,
    ClaimPublic,
    DecisionPublic,
    DocumentPublic,
    HistoryPublic,
    InsuranceQuotePublic,
    PersonPublic,
    PolicyPublic,
    ProductPublic,
    SagaPublic,
    TermPublic,
)


def money(minor: int, currency: str = domain.CURRENCY) -> str:
    return format_minor(minor, currency)


def product_public(p: domain.Product) -> ProductPublic:
    return ProductPublic(
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
        cooling_off_days=p.cooling_off_days,
        deductible=money(p.deductible_minor, p.currency),
    )


def quote_public(q: store.Quote) -> InsuranceQuotePublic:
    return InsuranceQuotePublic(
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


def history_public(h: store.History) -> HistoryPublic:
    return HistoryPublic(
        at=h.at,
        action=h.action,
        from_status=h.from_status,
        to_status=h.to_status,
        actor_id=h.actor_id,
        actor_role=h.actor_role,
        detail=h.detail or {},
        event_id=h.event_id,
    )


def saga_public(s: store.Saga | None) -> SagaPublic | None:
    if s is None:
        return None
    return SagaPublic(
        id=s.id, step=domain.public_step(s), attempts=s.attempts, reason=s.reason, detail=s.detail, entry_id=s.entry_id
    )


def policy_public(
    p: store.Policy,
    *,
    today: date,
    remaining_minor: int | None = None,
    saga: store.Saga | None = None,
    refund: store.Saga | None = None,
    history: list[store.History] | None = None,
) -> PolicyPublic:
    """The policy as it stands on the sandbox clock's `today` (its status read from its
    dates: pending before the cover starts, expired after it ends)."""
    remaining = p.sum_insured_minor if remaining_minor is None else remaining_minor
    issued_on = p.issued_at.astimezone(BANK_TZ).date() if p.issued_at else None
    links = {"self": f"/v1/insurance/policies/{p.id}", "account": f"/v1/accounts/{p.account_id}"}
    if p.renewal_of:
        links["renewal_of"] = f"/v1/insurance/policies/{p.renewal_of}"
    if p.renewed_by:
        links["renewed_by"] = f"/v1/insurance/policies/{p.renewed_by}"
    return PolicyPublic(
        id=p.id,
        number=p.number,
        customer_id=p.customer_id,
        product_code=p.product_code,
        status=store.status_today(p, today),  # type: ignore[arg-type]
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
        requested_starts_on=p.requested_starts_on,
        cooling_off_until=issued_on + timedelta(days=p.cooling_off_days) if issued_on else None,
        renewal_of=p.renewal_of,
        renewed_by=p.renewed_by,
        cancelled_at=p.cancelled_at,
        refund=money(p.refund_minor, p.currency) if p.refund_minor is not None else None,
        refund_minor=p.refund_minor,
        refund_basis=p.refund_basis,  # type: ignore[arg-type]
        refund_payment=saga_public(refund),
        insured=person_public(p.insured) if p.insured else None,
        beneficiaries=[person_public(b) for b in p.beneficiaries or []],
        premium_payment=saga_public(saga),
        history=[history_public(h) for h in history] if history is not None else None,
        links=links,
    )


def person_public(data: dict[str, Any]) -> PersonPublic:
    person = domain.Person.from_dict(data)
    return PersonPublic(
        name=person.name,
        id_type=person.id_type,  # type: ignore[arg-type]
        id_number=domain.masked(person.id_number),
        relationship=person.relationship,
        share_pct=person.share_pct,
    )


def document_public(d: store.ClaimDocument) -> DocumentPublic:
    return DocumentPublic(
        id=d.id,
        kind=d.kind,
        filename=d.name,
        size_bytes=d.size_bytes,
        content_type=d.content_type,  # type: ignore[arg-type]
        sha256=d.checksum,
        uploaded_at=d.created_at,
        content=f"/v1/insurance/claims/{d.claim_id}/documents/{d.id}/content" if d.content_type else None,
        name=d.name,
        checksum=d.checksum,
        created_at=d.created_at,
    )


def decision_public(d: store.ClaimDecision) -> DecisionPublic:
    return DecisionPublic(
        adjuster_id=d.adjuster_id,
        decision=d.decision,
        reason=d.reason,
        amount=money(d.amount_minor) if d.amount_minor is not None else None,
        created_at=d.created_at,
    )


def flag_public(f: store.ClaimFlag) -> ClaimFlagPublic:
    return ClaimFlagPublic(
        rule=f.rule,  # type: ignore[arg-type]
        reason=f.reason,
        evidence=list(f.evidence or []),
        forced=f.forced,
        flagged_at=f.created_at,
    )


def claim_public(
    c: store.Claim,
    *,
    decisions: list[store.ClaimDecision] | None = None,
    documents: list[store.ClaimDocument] | None = None,
    history: list[store.History] | None = None,
    payout: store.Saga | None = None,
    fraud_flags: list[store.ClaimFlag] | None = None,
) -> ClaimPublic:
    """The claim as its customer sees it; with `fraud_flags` (adjusters, operators,
    compliance) the fraud rules that flagged it too. A customer is not told which fraud
    rules flagged their claim."""
    approvals = [d.adjuster_id for d in decisions or [] if d.decision == "approve"]
    staff = fraud_flags is not None
    flags = [f for f in c.flags or [] if staff or f not in RULE_NAMES]
    return ClaimPublic(
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
        flags=flags,
        fraud_flags=[flag_public(f) for f in fraud_flags] if fraud_flags is not None else None,
        rejection_reason=c.rejection_reason,
        rejection_detail=c.rejection_detail,
        approved_amount=money(c.approved_minor, c.currency) if c.approved_minor is not None else None,
        approved_amount_minor=c.approved_minor,
        deductible=money(c.deductible_minor, c.currency),
        deductible_minor=c.deductible_minor,
        payout_amount=money(c.payout_minor, c.currency) if c.payout_minor is not None else None,
        payout_amount_minor=c.payout_minor,
        info_request=c.info_request,
        payout_account_id=c.payout_account_id,
        payout=saga_public(payout),
        documents=None if documents is None else [document_public(d) for d in documents],
        decisions=None if decisions is None else [decision_public(d) for d in decisions],
        history=[history_public(h) for h in history] if history is not None else None,
        created_at=c.created_at,
        updated_at=c.updated_at,
        links={
            "self": f"/v1/insurance/claims/{c.id}",
            "policy": f"/v1/insurance/policies/{c.policy_id}",
            "documents": f"/v1/insurance/claims/{c.id}/documents",
        },
    )
