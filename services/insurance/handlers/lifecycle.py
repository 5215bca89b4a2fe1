"""A policy after its purchase: cancellation with its refund, renewal, and the lifecycle
job that writes down, with an event each, the policies the sandbox clock has moved past
their last day (expired) and past the renewal grace period (lapsed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, bindparam, or_, select, update

from services.insurance import domain, store
from services.insurance.handlers.common import (
    SYSTEM,
    Actor,
    Context,
    cancellation_refund_id,
    record,
    start_saga,
)
from services.insurance.handlers.policies import PayingAccount, find_purchase, issue_quote, purchase_policy
from shared.clock import BANK_TZ
from shared.db import Database
from shared.events import Message
from shared.events import insurance as ev
from shared.kafka.messaging import UnitOfWork

P = domain.PolicyStatus


async def _own_policy(uow: UnitOfWork, customer_id: str, policy_id: str) -> store.Policy:
    policy = await uow.session.get(store.Policy, policy_id, with_for_update=True)
    if policy is None or policy.customer_id != customer_id:
        raise domain.NotFound(f"policy {policy_id} was not found")
    return policy


def _issued_on(policy: store.Policy) -> date:
    issued = policy.issued_at or policy.created_at
    return issued.astimezone(BANK_TZ).date()


async def cancel_policy(ctx: Context, uow: UnitOfWork, *, customer_id: str, policy_id: str) -> store.Policy:
    """Cancel a paid policy that has not ended: the cover ends now, and the premium goes
    back in full (before the start, or in the cooling-off period) or pro rata for the
    days of cover after today, by a refund saga from internal:insurance-premiums into the
    account that paid it."""
    policy = await _own_policy(uow, customer_id, policy_id)
    today = ctx.clock.bank_day()
    before = store.status_today(policy, today)
    domain.check_cancellable(policy.status, before, await store.live_claims(uow.session, policy.id))
    assert policy.starts_on is not None and policy.ends_on is not None  # a paid policy has its dates
    refund = domain.cancellation_refund(
        premium_minor=policy.premium_minor,
        issued_on=_issued_on(policy),
        starts_on=policy.starts_on,
        ends_on=policy.ends_on,
        cooling_off_days=policy.cooling_off_days,
        today=today,
    )
    now = ctx.clock.now()
    policy.status = P.CANCELLED
    policy.cancelled_at = policy.updated_at = now
    policy.refund_minor, policy.refund_basis = refund.amount_minor, refund.basis
    credit_id = None
    if refund.amount_minor > 0:
        credit_id = cancellation_refund_id(policy.id)
        start_saga(
            ctx,
            uow,
            saga_id=credit_id,
            kind=domain.SagaKind.REFUND,
            policy_id=policy.id,
            account_id=policy.account_id,
            amount_minor=refund.amount_minor,
            currency=policy.currency,
            description=f"Refund of insurance premium {policy.number} (cancelled, {refund.basis.replace('_', ' ')})",
        )
    await record(
        ctx,
        uow,
        aggregate="policy",
        aggregate_id=policy.id,
        action="cancelled",
        actor=Actor(customer_id, "customer"),
        event=ev.PolicyCancelled(
            policy_id=policy.id,
            customer_id=customer_id,
            number=policy.number,
            refund_minor=refund.amount_minor,
            currency=policy.currency,
            basis=refund.basis,
            credit_id=credit_id,
        ),
        from_status=before,
        to_status=policy.status,
        detail={
            "basis": refund.basis,
            "refund_minor": refund.amount_minor,
            "unexpired_days": refund.unexpired_days,
            "cooling_off_until": refund.cooling_off_until.isoformat(),
            "credit_id": credit_id,
        },
    )
    return policy


async def renew_policy(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    policy_id: str,
    account: PayingAccount,
    idempotency_key: str,
) -> tuple[store.Policy, bool]:
    """Buy the next term of a policy near or after its end: the same product, insured age,
    term and sum insured at today's price, starting the day after the old last day (or
    today, if that has passed), paid like a purchase. Returns (renewal, created)."""
    existing = await find_purchase(uow.session, customer_id, idempotency_key)
    if existing is not None:
        if (existing.renewal_of, existing.account_id) != (policy_id, account.id):
            raise domain.IdempotencyKeyReused("this Idempotency-Key was already used for another purchase")
        return existing, False
    old = await _own_policy(uow, customer_id, policy_id)
    today = ctx.clock.bank_day()
    starts_on = domain.renewal_start(store.status_today(old, today), old.ends_on, old.renewed_by is not None, today)
    insured = domain.Person.from_dict(old.insured) if old.insured else None
    age_now = domain.age_of(insured, today)
    quote = await issue_quote(
        ctx,
        uow,
        customer_id=customer_id,
        product_code=old.product_code,
        age=old.insured_age if age_now is None else age_now,  # priced at the age the ID gives today
        term_days=old.term_days,
        sum_insured_minor=old.sum_insured_minor,
    )
    await uow.session.flush()
    renewal, _ = await purchase_policy(
        ctx,
        uow,
        customer_id=customer_id,
        quote_id=quote.id,
        account=account,
        idempotency_key=idempotency_key,
        starts_on=starts_on,
        renewal_of=old.id,
        insured=insured,
        beneficiaries=tuple(domain.Person.from_dict(b) for b in old.beneficiaries or ()),
    )
    taken = await uow.session.execute(
        update(store.Policy)
        .where(store.Policy.id == old.id, store.Policy.renewed_by.is_(None))
        .values(renewed_by=renewal.id)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        raise domain.AlreadyRenewed("this policy was already renewed")
    return renewal, True


def _due(today: Any, lapsed_before: Any) -> tuple[tuple[ColumnElement[bool], ...], ...]:
    """What the clock has made due, as `move_policies` looks for it: covers bought for a
    later day that start, active policies that expire, expired ones that lapse."""
    Policy = store.Policy
    return (
        (
            Policy.status == P.ACTIVE,
            Policy.requested_starts_on.is_not(None),
            Policy.cover_started_at.is_(None),
            Policy.starts_on <= today,
        ),
        (Policy.status == P.ACTIVE, Policy.ends_on < today),
        (Policy.status == P.EXPIRED, Policy.renewed_by.is_(None), Policy.ends_on < lapsed_before),
    )


_ANYTHING_DUE = (
    select(store.Policy.id)
    .where(or_(*(and_(*where) for where in _due(bindparam("today", type_=Date()), bindparam("lapsed", type_=Date())))))
    .limit(1)
)


async def policies_to_move(ctx: Context, db: Database) -> bool:
    """Whether `move_policies` would find anything: its looks in one, without a session
    or a write transaction. The lifecycle runs every second and almost always finds
    nothing; it opens its unit of work only when this says there is something."""
    today = ctx.clock.bank_day()
    return bool(await db.quick_select(_ANYTHING_DUE).all(today=today, lapsed=today - domain.RENEWAL_GRACE))


async def move_policies(ctx: Context, uow: UnitOfWork, *, limit: int = 200) -> int:
    """Write down what the clock did to paid policies: a cover bought for a later day has
    started (PolicyCoverStarted), past the last day an active policy has expired
    (PolicyExpired), and past the renewal grace period an unrenewed one has lapsed
    (PolicyLapsed). Returns how many moved."""
    today, now = ctx.clock.bank_day(), ctx.clock.now()
    Policy = store.Policy
    moved = 0

    async def due(order: Any, *where: ColumnElement[bool]) -> Sequence[store.Policy]:
        query = select(Policy).where(*where).order_by(order, Policy.id).limit(limit).with_for_update()
        return (await uow.session.scalars(query)).all()

    async def write_down(
        policy: store.Policy, action: str, event: Message, moved_from: str, moved_to: str, detail: dict[str, Any]
    ) -> None:
        nonlocal moved
        policy.updated_at = now
        await record(
            ctx,
            uow,
            aggregate="policy",
            aggregate_id=policy.id,
            action=action,
            actor=SYSTEM,
            event=event,
            from_status=moved_from,
            to_status=moved_to,
            detail=detail,
        )
        moved += 1

    starts, expires, lapses = _due(today, today - domain.RENEWAL_GRACE)
    starting = await due(Policy.starts_on, *starts)
    for policy in starting:
        assert policy.starts_on is not None and policy.ends_on is not None
        policy.cover_started_at = now
        started = ev.PolicyCoverStarted(
            policy_id=policy.id,
            customer_id=policy.customer_id,
            number=policy.number,
            starts_on=policy.starts_on,
            ends_on=policy.ends_on,
        )
        await write_down(
            policy, "cover_started", started, P.PENDING, P.ACTIVE, {"starts_on": policy.starts_on.isoformat()}
        )

    for policy in await due(Policy.ends_on, *expires):
        assert policy.ends_on is not None
        policy.status = P.EXPIRED
        expired = ev.PolicyExpired(
            policy_id=policy.id,
            customer_id=policy.customer_id,
            number=policy.number,
            ends_on=policy.ends_on,
            renewable_until=policy.ends_on + domain.RENEWAL_GRACE,
        )
        await write_down(policy, "expired", expired, P.ACTIVE, P.EXPIRED, {"ends_on": policy.ends_on.isoformat()})
    await uow.session.flush()

    lapsing = await due(Policy.ends_on, *lapses)
    for policy in lapsing:
        assert policy.ends_on is not None
        policy.status = P.LAPSED
        lapsed = ev.PolicyLapsed(
            policy_id=policy.id, customer_id=policy.customer_id, number=policy.number, ends_on=policy.ends_on
        )
        renewable_until = (policy.ends_on + domain.RENEWAL_GRACE).isoformat()
        await write_down(policy, "lapsed", lapsed, P.EXPIRED, P.LAPSED, {"renewable_until": renewable_until})
    return moved
