"""Claims along the SOP: report, add documents, submit for assessment, adjusters'
decisions, and the approval that starts the payout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.insurance import domain, store
from services.insurance.domain import fraud
from services.insurance.handlers.common import (
    SYSTEM,
    Actor,
    Context,
    claim_transition,
    new_uuid,
    payout_credit_id,
    short_ref,
    start_saga,
)
from shared.clock import BANK_TZ
from shared.events import insurance as ev
from shared.kafka.messaging import UnitOfWork

S = domain.ClaimStatus


async def own_policy(uow: UnitOfWork, customer_id: str, policy_id: str) -> store.Policy:
    policy = await uow.session.get(store.Policy, policy_id)
    if policy is None or policy.customer_id != customer_id:
        raise domain.NotFound(f"policy {policy_id} was not found")
    return policy


async def own_claim(uow: UnitOfWork, customer_id: str, claim_id: str) -> store.Claim:
    claim = await uow.session.get(store.Claim, claim_id, with_for_update=True)
    if claim is None or claim.customer_id != customer_id:
        raise domain.NotFound(f"claim {claim_id} was not found")
    return claim


async def report_claim(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    policy_id: str,
    kind: str,
    cause: str | None,
    incident_date: date,
    amount_minor: int,
    description: str,
    payout_account_id: str | None,
) -> store.Claim:
    """Report an incident on one of the customer's policies (SOP step 1)."""
    policy = await own_policy(uow, customer_id, policy_id)
    product = await store.product(uow.session, policy.product_code)
    domain.check_new_claim(
        product,
        store.policy_terms(policy),
        kind=kind,
        incident_date=incident_date,
        amount_minor=amount_minor,
        today=ctx.clock.bank_day(),
    )
    now = ctx.clock.now()
    claim_id = new_uuid()
    claim = store.Claim(
        id=claim_id,
        number=f"CL-{short_ref(claim_id)}",
        policy_id=policy.id,
        customer_id=customer_id,
        kind=kind,
        cause=cause,
        incident_date=incident_date,
        amount_minor=amount_minor,
        currency=policy.currency,
        description=description,
        payout_account_id=payout_account_id or policy.account_id,
        deductible_minor=product.deductible_minor,
        approvals_required=0,
        flags=[],
        created_at=now,
        updated_at=now,
    )
    await claim_transition(
        ctx,
        uow,
        claim,
        action="reported",
        actor=Actor(customer_id, "customer"),
        event_type=ev.ClaimReported,
        to=S.REPORTED,
        audit={"kind": kind, "incident_date": incident_date.isoformat(), "amount_minor": amount_minor},
        number=claim.number,
        kind=kind,
        incident_date=incident_date,
        amount_minor=amount_minor,
        currency=claim.currency,
    )
    uow.session.add(claim)
    return claim


async def add_document(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    claim_id: str,
    kind: str,
    name: str,
    size_bytes: int,
    checksum: str,
    content: bytes | None = None,
    content_type: str | None = None,
) -> tuple[store.Claim, bool]:
    """Attach a document (SOP step 2): an uploaded file (`content`, already checked by
    `domain.check_file`, stored with its metadata) or metadata only. The same file
    (checksum) twice is accepted once; a claim holds at most
    `domain.MAX_DOCUMENTS_PER_CLAIM`. Returns (claim, added)."""
    claim = await own_claim(uow, customer_id, claim_id)
    if claim.status not in domain.DOCUMENTS_OPEN:
        raise domain.InvalidTransition(f"the claim is {claim.status}; documents are no longer accepted")
    domain.check_document_kind(kind)
    known = {d.checksum for d in await store.documents(uow.session, claim.id)}
    if checksum in known:
        return claim, False
    domain.check_room(len(known))
    document = store.ClaimDocument(
        id=new_uuid(),
        claim_id=claim.id,
        kind=kind,
        name=name,
        size_bytes=size_bytes,
        checksum=checksum,
        created_at=ctx.clock.now(),
        content_type=content_type,
    )
    uow.session.add(document)
    if content is not None:
        uow.session.add(store.ClaimDocumentContent(document_id=document.id, content=content))
    await claim_transition(
        ctx,
        uow,
        claim,
        action="document_submitted",
        actor=Actor(customer_id, "customer"),
        event_type=ev.ClaimDocumentSubmitted,
        to=S.DOCUMENTS_SUBMITTED if claim.status == S.REPORTED else None,
        audit={"document_id": document.id, "kind": kind, "name": name},
        document_id=document.id,
        document_kind=kind,
        name=name,
        size_bytes=size_bytes,
        checksum=checksum,
    )
    return claim, True


async def submit_claim(ctx: Context, uow: UnitOfWork, *, customer_id: str, claim_id: str) -> store.Claim:
    """The customer has sent every document: assess the claim now (SOP step 3). It ends
    approved (and paid out), rejected with the reasons, or waiting for adjusters."""
    claim = await own_claim(uow, customer_id, claim_id)
    await claim_transition(
        ctx,
        uow,
        claim,
        action="assessment_started",
        actor=Actor(customer_id, "customer"),
        event_type=ev.ClaimAssessmentStarted,
        to=S.UNDER_ASSESSMENT,
    )
    loaded = await _load(uow, claim)
    suspected = await _flag(ctx, uow, claim, loaded)
    assessment = domain.assess(loaded.case, ctx.thresholds, fraud=suspected)
    claim.flags = list(assessment.flags)
    if assessment.rejected:
        await _reject(ctx, uow, claim, assessment.rejections, SYSTEM)
    elif assessment.automatic:
        await _approve(ctx, uow, claim, approved_by=[], actor=SYSTEM)
    else:
        claim.approvals_required = assessment.approvals_required
        await claim_transition(
            ctx,
            uow,
            claim,
            action="referred_to_adjuster",
            actor=SYSTEM,
            event_type=ev.ClaimReferredToAdjuster,
            # The history is the customer's to read: the fraud rules' names stay off it.
            audit={"approvals_required": assessment.approvals_required, "flags": public_flags(assessment.flags)},
            approvals_required=assessment.approvals_required,
            flags=list(assessment.flags),
        )
    return claim


async def decide_claim(
    ctx: Context,
    uow: UnitOfWork,
    *,
    adjuster_id: str,
    claim_id: str,
    decision: domain.Decision,
    reason: str | None,
    amount_minor: int | None = None,
) -> store.Claim:
    """An adjuster approves (the amount claimed, or less with a reason), rejects, or returns
    a claim waiting for them to the customer for more information (SOP step 4)."""
    session = uow.session
    claim = await session.get(store.Claim, claim_id, with_for_update=True)
    if claim is None:
        raise domain.NotFound(f"claim {claim_id} was not found")
    if decision == domain.Decision.APPROVE:
        domain.check_approved_amount(amount_minor, claim.amount_minor, claim.deductible_minor, reason)
    approvals = tuple(d.adjuster_id for d in await store.decisions(session, claim.id) if d.decision == "approve")
    outcome = domain.decide(
        status=claim.status,
        claimant_id=claim.customer_id,
        approvals_required=claim.approvals_required,
        approvals=approvals,
        adjuster_id=adjuster_id,
        decision=decision,
    )
    adjuster = Actor(adjuster_id, "adjuster")
    if outcome.status == S.INFO_REQUESTED:
        # Not a decision: the adjuster may still decide once the customer resubmits.
        claim.info_request = reason
        await claim_transition(
            ctx,
            uow,
            claim,
            action="info_requested",
            actor=adjuster,
            event_type=ev.ClaimInfoRequested,
            to=S.INFO_REQUESTED,
            audit={"message": reason},
            message=reason or "",
        )
        return claim
    session.add(
        store.ClaimDecision(
            claim_id=claim.id,
            adjuster_id=adjuster_id,
            decision=decision,
            reason=reason,
            amount_minor=amount_minor,
            created_at=ctx.clock.now(),
        )
    )
    await session.flush()
    if outcome.status == S.REJECTED:
        await _reject(ctx, uow, claim, (domain.Rejection("rejected_by_adjuster", reason or ""),), adjuster)
    elif outcome.status == S.APPROVED:
        # Another claim may have used up the sum insured while this one waited.
        shortfall = domain.within_remaining_sum_insured(await _case(uow, claim))
        if shortfall is not None:
            await _reject(ctx, uow, claim, (shortfall,), SYSTEM)
        else:
            await _approve(ctx, uow, claim, approved_by=list(outcome.approvals), actor=adjuster)
    else:
        await claim_transition(
            ctx,
            uow,
            claim,
            action="approval_recorded",
            actor=adjuster,
            event_type=ev.ClaimApprovalRecorded,
            audit={"approvals": list(outcome.approvals), "approvals_required": claim.approvals_required},
            approvals=list(outcome.approvals),
            approvals_required=claim.approvals_required,
        )
    return claim


def public_flags(flags: list[str] | tuple[str, ...]) -> list[str]:
    """The flags a customer may see: not those of the fraud rules (no tipping off)."""
    return [f for f in flags if f not in fraud.RULE_NAMES]


@dataclass(frozen=True)
class Loaded:
    """A claim's case for the rules, and the rows it was made from."""

    case: domain.Case
    policy: store.Policy
    siblings: list[store.Claim]  # every claim on the policy, this one included
    documents: list[store.ClaimDocument]


async def _load(uow: UnitOfWork, claim: store.Claim) -> Loaded:
    session = uow.session
    policy = await store.required(session, store.Policy, claim.policy_id)
    product = await store.product(session, policy.product_code)
    siblings = await store.claims_of_policy(session, policy.id)
    others = tuple(store.other_claim(c) for c in siblings if c.id != claim.id)
    documents = await store.documents(session, claim.id)
    facts = domain.ClaimFacts(
        id=claim.id,
        customer_id=claim.customer_id,
        kind=claim.kind,
        cause=claim.cause,
        incident_date=claim.incident_date,
        amount_minor=claim.amount_minor,
        created_at=claim.created_at,
        document_kinds=frozenset(d.kind for d in documents),
    )
    return Loaded(domain.Case(product, store.policy_terms(policy), facts, others), policy, siblings, documents)


async def _case(uow: UnitOfWork, claim: store.Claim) -> domain.Case:
    return (await _load(uow, claim)).case


def _bank_day(at: datetime) -> date:
    return at.astimezone(BANK_TZ).date()


async def _flag(ctx: Context, uow: UnitOfWork, claim: store.Claim, loaded: Loaded) -> list[str]:
    """Run the fraud rules on a claim being submitted and keep the flags of rules that
    had not flagged it yet: rows beside the claim, a `ClaimFlagged` event and an audit
    entry. Returns the names of every rule that has flagged it (earlier ones too)."""
    session, policy = uow.session, loaded.policy
    elsewhere = await store.documents_elsewhere(session, claim.id, (d.checksum for d in loaded.documents))
    facts = fraud.FraudFacts(
        claim_id=claim.id,
        description=claim.description,
        amount_minor=claim.amount_minor,
        currency=claim.currency,
        incident_date=claim.incident_date,
        reported_on=_bank_day(claim.created_at),
        cover_starts_on=policy.starts_on,
        renewal=policy.renewal_of is not None,
        sum_insured_minor=policy.sum_insured_minor,
        shared_documents=tuple(fraud.SharedDocument(d.checksum, d.claim_id, d.id) for d in elsewhere),
        others_on_policy=tuple(
            fraud.ClaimOnPolicy(c.id, _bank_day(c.created_at)) for c in loaded.siblings if c.id != claim.id
        ),
    )
    earlier = (await store.flags(session, [claim.id]))[claim.id]
    raised = fraud.new_flags(fraud.flag(facts, ctx.fraud), frozenset(f.rule for f in earlier))
    if raised:
        now = ctx.clock.now()
        for f in raised:
            session.add(
                store.ClaimFlag(
                    claim_id=claim.id,
                    rule=f.rule,
                    reason=f.reason[:500],
                    evidence=list(f.evidence),
                    forced=f.forced,
                    created_at=now,
                )
            )
        flags = [
            ev.FraudFlagRaised(rule=f.rule, reason=f.reason, evidence=list(f.evidence), forced=f.forced) for f in raised
        ]
        uow.publish(
            ev.ClaimFlagged(
                claim_id=claim.id,
                policy_id=claim.policy_id,
                customer_id=claim.customer_id,
                status=claim.status,
                actor_id=SYSTEM.id,
                actor_role=SYSTEM.role,
                number=claim.number,
                amount_minor=claim.amount_minor,
                currency=claim.currency,
                flags=flags,
            )
        )
        uow.audit(
            actor=f"system:{uow.source}",
            action="claim.flagged",
            subject_kind="claim",
            subject_id=claim.id,
            customer_id=claim.customer_id,
            account_id=claim.payout_account_id,
            after={"flags": [f.model_dump() for f in flags]},
        )
    return [f.rule for f in earlier] + [f.rule for f in raised]


async def _reject(
    ctx: Context, uow: UnitOfWork, claim: store.Claim, rejections: tuple[domain.Rejection, ...], actor: Actor
) -> None:
    claim.rejection_reason = rejections[0].reason
    claim.rejection_detail = "; ".join(r.detail for r in rejections if r.detail)[:500] or None
    await claim_transition(
        ctx,
        uow,
        claim,
        action="rejected",
        actor=actor,
        event_type=ev.ClaimRejected,
        to=S.REJECTED,
        audit={"rejections": [{"reason": r.reason, "detail": r.detail} for r in rejections]},
        reason=claim.rejection_reason,
        detail=claim.rejection_detail or "",
    )


async def _approve(ctx: Context, uow: UnitOfWork, claim: store.Claim, *, approved_by: list[str], actor: Actor) -> None:
    """Approve and start the payout saga: credit the approved amount less the deductible
    from internal:insurance-claims."""
    named = [d.amount_minor for d in await store.decisions(uow.session, claim.id) if d.decision == "approve"]
    settlement = domain.settle(claim.amount_minor, named, claim.deductible_minor)
    claim.approved_minor, claim.payout_minor = settlement.approved_minor, settlement.payout_minor
    credit_id = payout_credit_id(claim.id)
    claim.payout_id = credit_id
    await claim_transition(
        ctx,
        uow,
        claim,
        action="approved",
        actor=actor,
        event_type=ev.ClaimApproved,
        to=S.APPROVED,
        audit={
            "automatic": not approved_by,
            "approved_by": approved_by,
            "credit_id": credit_id,
            "approved_minor": settlement.approved_minor,
            "deductible_minor": settlement.deductible_minor,
            "payout_minor": settlement.payout_minor,
        },
        amount_minor=settlement.payout_minor,
        approved_minor=settlement.approved_minor,
        deductible_minor=settlement.deductible_minor,
        currency=claim.currency,
        automatic=not approved_by,
        approved_by=approved_by,
        payout_account_id=claim.payout_account_id,
        credit_id=credit_id,
    )
    start_saga(
        ctx,
        uow,
        saga_id=credit_id,
        kind=domain.SagaKind.PAYOUT,
        policy_id=claim.policy_id,
        claim_id=claim.id,
        account_id=claim.payout_account_id,
        amount_minor=settlement.payout_minor,
        currency=claim.currency,
        description=f"Insurance claim {claim.number} payout",
    )
