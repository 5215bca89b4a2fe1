"""The sagas' reactions to accounts' facts, and the timeout sweep that re-sends a step
that heard nothing.

A fact finds its saga by the business id it carries (hold id or credit id); the pure
step tables in `domain.sagas` decide what happens; this module carries it out: the next
command, the policy issued or failed, the claim paid and closed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.insurance import domain, store
from services.insurance.handlers.common import (
    ACCOUNTS,
    SYSTEM,
    Context,
    claim_transition,
    record,
    refund_credit_id,
    send,
    start_saga,
)
from shared.events import Envelope, Message
from shared.events import accounts as acc
from shared.events import insurance as ev
from shared.kafka.consumer import Handler
from shared.kafka.messaging import UnitOfWork

A = domain.Action
RESEND = frozenset({A.RESERVE, A.CAPTURE, A.RELEASE, A.CREDIT})


async def on_accounts_fact(ctx: Context, uow: UnitOfWork, message: Message) -> None:
    """Advance the saga this fact answers; facts for anyone else's holds are ignored."""
    saga_id = getattr(message, "hold_id", None) or getattr(message, "credit_id", None)
    if not saga_id:
        return
    saga = await uow.session.get(store.Saga, saga_id, with_for_update=True)
    if saga is None:
        return
    fact = message.TYPE.split(".", 1)[1]
    step, action = domain.on_reply(saga.kind, saga.step, fact)
    if action == A.IGNORE:
        return
    reason = getattr(message, "reason", None)
    detail = getattr(message, "detail", "") or ""
    entry_id = getattr(message, "entry_id", None)
    if step != saga.step:
        _move(ctx, saga, step)
        if reason:
            saga.reason, saga.detail = reason, detail[:300]
        if entry_id:
            saga.entry_id = entry_id
    await _carry_out(ctx, uow, saga, action)


async def any_due(ctx: Context, session: AsyncSession) -> bool:
    """Whether a pending step's timeout has passed (a cheap read before a write)."""
    found = await session.scalar(
        select(store.Saga.id)
        .where(store.Saga.step.in_(list(domain.PENDING_STEPS)), store.Saga.next_attempt_at <= ctx.clock.now())
        .limit(1)
    )
    return found is not None


async def retry_due_sagas(ctx: Context, uow: UnitOfWork, *, limit: int = 100) -> int:
    """Re-send every pending step whose timeout passed; give up after `max_attempts`.
    Returns how many sagas it touched."""
    now = ctx.clock.now()
    due = (
        await uow.session.scalars(
            select(store.Saga)
            .where(store.Saga.step.in_(list(domain.PENDING_STEPS)), store.Saga.next_attempt_at <= now)
            .order_by(store.Saga.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for saga in due:
        step, action = domain.on_timeout(saga.step, saga.attempts, ctx.max_attempts)
        if step != saga.step:
            _move(ctx, saga, step)
            saga.reason, saga.detail = "timeout", f"accounts did not answer {ctx.max_attempts} times"
        await _carry_out(ctx, uow, saga, action)
    return len(due)


def _move(ctx: Context, saga: store.Saga, step: domain.Step) -> None:
    """A new pending step counts its own attempts; a finished saga keeps the last count."""
    saga.step, saga.updated_at = step, ctx.clock.now()
    if step in domain.PENDING_STEPS:
        saga.attempts = 0


async def _carry_out(ctx: Context, uow: UnitOfWork, saga: store.Saga, action: domain.Action) -> None:
    if action in RESEND:
        send(ctx, uow, saga, action)
        if action == A.CAPTURE and saga.attempts == 1:
            await _premium_reserved(ctx, uow, saga)
    elif action == A.ISSUE:
        await _issue_policy(ctx, uow, saga)
    elif action == A.FAIL:
        await _fail(ctx, uow, saga)
    elif action == A.PAID:
        await _credited(ctx, uow, saga)
    elif action == A.REFUND:
        await _refund(ctx, uow, saga)


async def _policy(uow: UnitOfWork, saga: store.Saga) -> store.Policy:
    policy = await uow.session.get(store.Policy, saga.policy_id, with_for_update=True)
    assert policy is not None, f"saga {saga.id} has no policy"
    return policy


async def _premium_reserved(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    policy = await _policy(uow, saga)
    await record(
        ctx,
        uow,
        aggregate="policy",
        aggregate_id=policy.id,
        action="premium_reserved",
        actor=ACCOUNTS,
        event=ev.PremiumReserved(
            policy_id=policy.id, customer_id=policy.customer_id, hold_id=saga.id, amount_minor=saga.amount_minor
        ),
        from_status=policy.status,
        to_status=policy.status,
        detail={"hold_id": saga.id},
    )


async def _issue_policy(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    """The premium is in internal:insurance-premiums: cover starts today (bank day)."""
    policy = await _policy(uow, saga)
    if policy.status != domain.PolicyStatus.PENDING:
        return
    cover = domain.coverage(ctx.clock.bank_day(), policy.term_days, policy.waiting_days)
    now = ctx.clock.now()
    policy.status = domain.PolicyStatus.ACTIVE
    policy.starts_on, policy.ends_on, policy.covered_from = cover.starts_on, cover.ends_on, cover.covered_from
    policy.issued_at = policy.updated_at = now
    await record(
        ctx,
        uow,
        aggregate="policy",
        aggregate_id=policy.id,
        action="issued",
        actor=ACCOUNTS,
        event=ev.PolicyIssued(
            policy_id=policy.id,
            customer_id=policy.customer_id,
            number=policy.number,
            product_code=policy.product_code,
            sum_insured_minor=policy.sum_insured_minor,
            premium_minor=policy.premium_minor,
            currency=policy.currency,
            starts_on=cover.starts_on,
            ends_on=cover.ends_on,
            covered_from=cover.covered_from,
            entry_id=saga.entry_id or "",
        ),
        from_status=domain.PolicyStatus.PENDING,
        to_status=policy.status,
        detail={"hold_id": saga.id, "entry_id": saga.entry_id},
    )


async def _fail(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    reason, detail = saga.reason or "released", saga.detail or ""
    if saga.kind == domain.SagaKind.PREMIUM:
        policy = await _policy(uow, saga)
        if policy.status != domain.PolicyStatus.PENDING:
            return
        policy.status, policy.failure_reason, policy.failure_detail = domain.PolicyStatus.FAILED, reason, detail
        policy.updated_at = ctx.clock.now()
        quote = await uow.session.get(store.Quote, policy.quote_id)
        if quote is not None and quote.policy_id == policy.id:
            quote.policy_id = None  # the customer may try again while the quote lasts
        await record(
            ctx,
            uow,
            aggregate="policy",
            aggregate_id=policy.id,
            action="purchase_failed",
            actor=ACCOUNTS if reason != "timeout" else SYSTEM,
            event=ev.PolicyPurchaseFailed(
                policy_id=policy.id, customer_id=policy.customer_id, reason=reason, detail=detail
            ),
            from_status=domain.PolicyStatus.PENDING,
            to_status=policy.status,
            detail={"hold_id": saga.id, "reason": reason, "detail": detail},
        )
    elif saga.kind == domain.SagaKind.PAYOUT:
        claim = await uow.session.get(store.Claim, saga.claim_id, with_for_update=True)
        assert claim is not None
        await claim_transition(
            ctx,
            uow,
            claim,
            action="payout_failed",
            actor=ACCOUNTS if reason != "timeout" else SYSTEM,
            event_type=ev.ClaimPayoutFailed,
            audit={"credit_id": saga.id, "reason": reason, "detail": detail},
            credit_id=saga.id,
            reason=reason,
            detail=detail,
        )
    else:
        await record(
            ctx,
            uow,
            aggregate="policy",
            aggregate_id=saga.policy_id,
            action="refund_failed",
            actor=ACCOUNTS if reason != "timeout" else SYSTEM,
            event=None,
            detail={"credit_id": saga.id, "reason": reason, "detail": detail},
        )


async def _credited(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    """A payout landed: the claim is paid, and with that its file is closed."""
    if saga.kind == domain.SagaKind.REFUND:
        policy = await _policy(uow, saga)
        await record(
            ctx,
            uow,
            aggregate="policy",
            aggregate_id=policy.id,
            action="premium_refunded",
            actor=ACCOUNTS,
            event=ev.PremiumRefunded(
                policy_id=policy.id,
                customer_id=policy.customer_id,
                credit_id=saga.id,
                account_id=saga.account_id,
                amount_minor=saga.amount_minor,
            ),
            from_status=policy.status,
            to_status=policy.status,
            detail={"credit_id": saga.id, "entry_id": saga.entry_id},
        )
        return
    claim = await uow.session.get(store.Claim, saga.claim_id, with_for_update=True)
    assert claim is not None
    if claim.status != domain.ClaimStatus.APPROVED:
        return
    await claim_transition(
        ctx,
        uow,
        claim,
        action="paid",
        actor=ACCOUNTS,
        event_type=ev.ClaimPaid,
        to=domain.ClaimStatus.PAID,
        audit={"credit_id": saga.id, "entry_id": saga.entry_id, "account_id": saga.account_id},
        credit_id=saga.id,
        account_id=saga.account_id,
        amount_minor=saga.amount_minor,
        currency=saga.currency,
        entry_id=saga.entry_id or "",
    )
    await claim_transition(
        ctx, uow, claim, action="closed", actor=SYSTEM, event_type=ev.ClaimClosed, to=domain.ClaimStatus.CLOSED
    )


async def _refund(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    """A premium captured after its purchase had given up goes back to the customer."""
    refund_id = refund_credit_id(saga.policy_id)
    if await uow.session.get(store.Saga, refund_id) is not None:
        return
    start_saga(
        ctx,
        uow,
        saga_id=refund_id,
        kind=domain.SagaKind.REFUND,
        step=domain.Step.CREDITING,
        policy_id=saga.policy_id,
        account_id=saga.account_id,
        amount_minor=saga.amount_minor,
        currency=saga.currency,
        description=f"Refund of {saga.description}",
    )


FACTS = (
    acc.FundsReserved,
    acc.ReservationRejected,
    acc.HoldCaptured,
    acc.CaptureRejected,
    acc.HoldReleased,
    acc.AccountCredited,
    acc.CreditRejected,
)


def fact_handlers(ctx: Context) -> dict[str, Handler]:
    async def handle(uow: UnitOfWork, _envelope: Envelope, message: Message) -> None:
        await on_accounts_fact(ctx, uow, message)

    return {fact.TYPE: handle for fact in FACTS}
