"""Claims along the SOP: report, add documents, submit for assessment, adjusters'
decisions, and the approval that starts the payout."""

from __future__ import annotations

from datetime import date

from services.insurance import domain, store
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
    case = await _case(uow, claim)
    assessment = domain.assess(case, ctx.thresholds)
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
            audit={"approvals_required": assessment.approvals_required, "flags": list(assessment.flags)},
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


async def _case(uow: UnitOfWork, claim: store.Claim) -> domain.Case:
    session = uow.session
    policy = await store.required(session, store.Policy, claim.policy_id)
    product = await store.product(session, policy.product_code)
    others = tuple(store.other_claim(c) for c in await store.claims_of_policy(session, policy.id) if c.id != claim.id)
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
    return domain.Case(product, store.policy_terms(policy), facts, others)


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
