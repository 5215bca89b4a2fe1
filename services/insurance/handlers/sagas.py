"""The sagas' reactions to accounts' facts and to their deadlines.

A fact finds its saga by the business id it carries (hold id or credit id). Each
reaction loads the saga, asks its decider (`domain.PremiumSaga`, `domain.CreditSaga`)
and carries the decision out in one unit of work: `advance` moves the row, the commands
of the steps it returns go out through the outbox, and the saga's end has its effect on
the aggregates (the policy issued or failed, the claim paid and closed, the premium
refunded). A fact that arrives twice, or after the saga moved on, is decided as nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.insurance import domain, store
from services.insurance.domain import CAPTURE, REFUND, RELEASE, SagaKind
from services.insurance.handlers.common import (
    ACCOUNTS,
    SYSTEM,
    Actor,
    Context,
    cancellation_refund_id,
    claim_transition,
    command,
    record,
    refund_credit_id,
    start_saga,
)
from shared.events import Message
from shared.events import accounts as acc
from shared.events import insurance as ev
from shared.kafka.consumer import Handler, bind_handlers
from shared.kafka.messaging import UnitOfWork
from shared.saga.model import COMPLETED, FAILED, Decision, advance
from shared.saga.store import audit_saga, correlated

log = logging.getLogger(__name__)

PREMIUM_KINDS = frozenset({SagaKind.PREMIUM})
CREDIT_KINDS = frozenset({SagaKind.PAYOUT, SagaKind.REFUND})


async def _saga(uow: UnitOfWork, saga_id: str, kinds: frozenset[SagaKind]) -> store.Saga | None:
    """The saga a fact about `saga_id` answers, locked; None for another service's hold
    or credit (most facts on accounts.events are)."""
    saga = await uow.session.get(store.Saga, saga_id, with_for_update=True)
    return saga if saga is not None and saga.kind in kinds else None


async def _carry_out(
    ctx: Context, uow: UnitOfWork, saga: store.Saga, decision: Decision, now: datetime, entry_id: str | None = None
) -> None:
    """Move the saga as decided, send the commands of its steps, and let its end act on
    the policy or the claim."""
    if decision.ignored:
        return
    with correlated(saga.correlation_id):
        if decision.outcome == COMPLETED and entry_id:
            saga.entry_id = entry_id
        for step in advance(saga, decision, now, ctx.timeouts(saga.kind)):
            if step == REFUND:
                await _start_refund(ctx, uow, saga)
            else:
                uow.publish(command(saga, step))
        if decision.step == CAPTURE:
            await _premium_reserved(ctx, uow, saga)
        if decision.outcome is not None:
            audit_saga(uow, saga, ended=True)
        if decision.outcome == COMPLETED:
            await _completed(ctx, uow, saga)
        elif decision.outcome == FAILED:
            await _failed(ctx, uow, saga)


# --- accounts' facts ---------------------------------------------------------------------------


async def when_funds_reserved_capture_premium(ctx: Context, uow: UnitOfWork, msg: acc.FundsReserved) -> None:
    if (saga := await _saga(uow, msg.hold_id, PREMIUM_KINDS)) is not None:
        await _carry_out(ctx, uow, saga, ctx.premiums.on_funds_reserved(saga), ctx.clock.now())


async def when_reservation_rejected_fail_purchase(ctx: Context, uow: UnitOfWork, msg: acc.ReservationRejected) -> None:
    if (saga := await _saga(uow, msg.hold_id, PREMIUM_KINDS)) is not None:
        decision = ctx.premiums.on_reservation_rejected(saga, msg.reason, msg.detail)
        await _carry_out(ctx, uow, saga, decision, ctx.clock.now())


async def when_hold_captured_issue_policy(ctx: Context, uow: UnitOfWork, msg: acc.HoldCaptured) -> None:
    if (saga := await _saga(uow, msg.hold_id, PREMIUM_KINDS)) is not None:
        await _carry_out(ctx, uow, saga, ctx.premiums.on_hold_captured(saga), ctx.clock.now(), msg.entry_id)


async def when_capture_rejected_release_premium(ctx: Context, uow: UnitOfWork, msg: acc.CaptureRejected) -> None:
    if (saga := await _saga(uow, msg.hold_id, PREMIUM_KINDS)) is not None:
        decision = ctx.premiums.on_capture_rejected(saga, msg.reason, msg.detail)
        await _carry_out(ctx, uow, saga, decision, ctx.clock.now())


async def when_hold_released_fail_purchase(ctx: Context, uow: UnitOfWork, msg: acc.HoldReleased) -> None:
    if (saga := await _saga(uow, msg.hold_id, PREMIUM_KINDS)) is not None:
        await _carry_out(ctx, uow, saga, ctx.premiums.on_hold_released(saga), ctx.clock.now())


async def when_account_credited_complete_credit(ctx: Context, uow: UnitOfWork, msg: acc.AccountCredited) -> None:
    if (saga := await _saga(uow, msg.credit_id, CREDIT_KINDS)) is not None:
        await _carry_out(ctx, uow, saga, ctx.credits.on_credited(saga), ctx.clock.now(), msg.entry_id)


async def when_credit_rejected_fail_credit(ctx: Context, uow: UnitOfWork, msg: acc.CreditRejected) -> None:
    if (saga := await _saga(uow, msg.credit_id, CREDIT_KINDS)) is not None:
        decision = ctx.credits.on_credit_rejected(saga, msg.reason, msg.detail)
        await _carry_out(ctx, uow, saga, decision, ctx.clock.now())


def fact_handlers(ctx: Context) -> dict[str, Handler]:
    return bind_handlers(
        ctx,
        {
            acc.FundsReserved: when_funds_reserved_capture_premium,
            acc.ReservationRejected: when_reservation_rejected_fail_purchase,
            acc.HoldCaptured: when_hold_captured_issue_policy,
            acc.CaptureRejected: when_capture_rejected_release_premium,
            acc.HoldReleased: when_hold_released_fail_purchase,
            acc.AccountCredited: when_account_credited_complete_credit,
            acc.CreditRejected: when_credit_rejected_fail_credit,
        },
    )


# --- deadlines -----------------------------------------------------------------------------------


async def sagas_overdue(ctx: Context, uow: UnitOfWork, ids: Sequence[str], now: datetime) -> None:
    """The sweeper's hand-off: each saga still past its deadline re-sends its step, or
    gives up as its decider says."""
    for saga in await store.sagas_for_update(uow.session, ids):
        if saga.deadline_at is None or saga.deadline_at >= now:
            continue  # a fact moved it since the sweeper looked
        decision = ctx.decider(saga.kind).on_deadline(saga)
        if decision.step == RELEASE:
            log.warning("%s saga %s: no answer after %d sends; releasing", saga.kind, saga.id, saga.attempts)
        await _carry_out(ctx, uow, saga, decision, now)


# --- the sagas' effects on policies and claims ---------------------------------------------------


async def _policy_step(
    ctx: Context,
    uow: UnitOfWork,
    policy: store.Policy,
    *,
    action: str,
    event: Message,
    detail: dict[str, Any],
    actor: Actor = ACCOUNTS,
    before: str | None = None,
) -> None:
    """A step of the policy's story: its event and its history row, from `before` (the
    policy's status, unless it just changed) to its status now."""
    await record(
        ctx,
        uow,
        aggregate="policy",
        aggregate_id=policy.id,
        action=action,
        actor=actor,
        event=event,
        from_status=before or policy.status,
        to_status=policy.status,
        detail=detail,
    )


async def _premium_reserved(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    policy = await store.required(uow.session, store.Policy, saga.policy_id, for_update=True)
    await _policy_step(
        ctx,
        uow,
        policy,
        action="premium_reserved",
        event=ev.PremiumReserved(
            policy_id=policy.id, customer_id=policy.customer_id, hold_id=saga.id, amount_minor=saga.amount_minor
        ),
        detail={"hold_id": saga.id},
    )


async def _completed(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    if saga.kind == SagaKind.PREMIUM:
        await _issue_policy(ctx, uow, saga)
    elif saga.kind == SagaKind.PAYOUT:
        await _pay_claim(ctx, uow, saga)
    else:
        await _premium_refunded(ctx, uow, saga)


async def _failed(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    reason, detail = domain.failure(saga)
    actor = SYSTEM if reason == domain.TIMEOUT else ACCOUNTS
    if saga.kind == SagaKind.PREMIUM:
        await _fail_purchase(ctx, uow, saga, reason, detail, actor)
    elif saga.kind == SagaKind.PAYOUT:
        await claim_transition(
            ctx,
            uow,
            await _claim(uow, saga),
            action="payout_failed",
            actor=actor,
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
            actor=actor,
            event=None,
            detail={"credit_id": saga.id, "reason": reason, "detail": detail},
        )


async def _issue_policy(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    """The premium is in internal:insurance-premiums: cover starts today (bank day), or on
    the later day the customer asked for."""
    policy = await store.required(uow.session, store.Policy, saga.policy_id, for_update=True)
    if policy.status != domain.PolicyStatus.PENDING:
        return
    starts_on = domain.start_of_cover(policy.requested_starts_on, ctx.clock.bank_day())
    cover = domain.coverage(starts_on, policy.term_days, policy.waiting_days)
    now = ctx.clock.now()
    policy.status = domain.PolicyStatus.ACTIVE
    policy.starts_on, policy.ends_on, policy.covered_from = cover.starts_on, cover.ends_on, cover.covered_from
    policy.issued_at = policy.updated_at = now
    if cover.starts_on <= ctx.clock.bank_day():
        policy.cover_started_at = now  # no later "cover started" to tell
    await _policy_step(
        ctx,
        uow,
        policy,
        action="issued",
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
        detail={"hold_id": saga.id, "entry_id": saga.entry_id},
        before=domain.PolicyStatus.PENDING,
    )


async def _fail_purchase(
    ctx: Context, uow: UnitOfWork, saga: store.Saga, reason: str, detail: str, actor: Actor
) -> None:
    policy = await store.required(uow.session, store.Policy, saga.policy_id, for_update=True)
    if policy.status != domain.PolicyStatus.PENDING:
        return
    policy.status, policy.failure_reason, policy.failure_detail = domain.PolicyStatus.FAILED, reason, detail
    policy.updated_at = ctx.clock.now()
    quote = await uow.session.get(store.Quote, policy.quote_id)
    if quote is not None and quote.policy_id == policy.id:
        quote.policy_id = None  # the customer may try again while the quote lasts
    if policy.renewal_of is not None:
        renewed = await uow.session.get(store.Policy, policy.renewal_of, with_for_update=True)
        if renewed is not None and renewed.renewed_by == policy.id:
            renewed.renewed_by = None  # the old policy may be renewed again
    await _policy_step(
        ctx,
        uow,
        policy,
        action="purchase_failed",
        event=ev.PolicyPurchaseFailed(
            policy_id=policy.id, customer_id=policy.customer_id, reason=reason, detail=detail
        ),
        detail={"hold_id": saga.id, "reason": reason, "detail": detail},
        actor=actor,
        before=domain.PolicyStatus.PENDING,
    )


async def _pay_claim(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    """A payout landed: the claim is paid, and with that its file is closed."""
    claim = await _claim(uow, saga)
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


async def _claim(uow: UnitOfWork, payout: store.Saga) -> store.Claim:
    if payout.claim_id is None:
        raise store.MissingRow(f"payout {payout.id} names no claim")
    return await store.required(uow.session, store.Claim, payout.claim_id, for_update=True)


async def _premium_refunded(ctx: Context, uow: UnitOfWork, saga: store.Saga) -> None:
    policy = await store.required(uow.session, store.Policy, saga.policy_id)
    cancelled = saga.id == cancellation_refund_id(policy.id)
    await _policy_step(
        ctx,
        uow,
        policy,
        action="premium_refunded",
        event=ev.PremiumRefunded(
            policy_id=policy.id,
            customer_id=policy.customer_id,
            credit_id=saga.id,
            account_id=saga.account_id,
            amount_minor=saga.amount_minor,
            reason="cancelled" if cancelled else "purchase_failed",
        ),
        detail={"credit_id": saga.id, "entry_id": saga.entry_id},
    )


async def _start_refund(ctx: Context, uow: UnitOfWork, premium: store.Saga) -> None:
    """A premium captured after its purchase had given up goes back to the customer, once."""
    refund_id = refund_credit_id(premium.policy_id)
    if await uow.session.get(store.Saga, refund_id) is not None:
        return
    start_saga(
        ctx,
        uow,
        saga_id=refund_id,
        kind=SagaKind.REFUND,
        policy_id=premium.policy_id,
        account_id=premium.account_id,
        amount_minor=premium.amount_minor,
        currency=premium.currency,
        description=f"Refund of {premium.description}",
    )
