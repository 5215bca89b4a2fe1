"""What the use cases share: the context, who acts, the audit record every transition
writes, and the sagas' start and the commands their steps send to accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from services.insurance import domain, store
from services.insurance.domain import CAPTURE, CREDIT, RELEASE, RESERVE, SagaKind
from shared.clock import Clock
from shared.events import Message
from shared.events import accounts as acc
from shared.events import insurance as ev
from shared.kafka.messaging import UnitOfWork
from shared.observability import correlation_id_var
from shared.saga.model import Timeouts, begin
from shared.saga.store import audit_saga
from shared.schemas.statements import LineKind, ReferenceKind

PREMIUMS_ACCOUNT = "internal:insurance-premiums"
CLAIMS_ACCOUNT = "internal:insurance-claims"


@dataclass
class Context:
    clock: Clock = field(default_factory=Clock)
    thresholds: domain.Thresholds = field(default_factory=domain.Thresholds)
    fraud: domain.FraudThresholds = field(default_factory=domain.FraudThresholds)
    premiums: domain.PremiumSaga = field(default_factory=domain.PremiumSaga)
    credits: domain.CreditSaga = field(default_factory=domain.CreditSaga)

    def decider(self, kind: str) -> domain.PremiumSaga | domain.CreditSaga:
        return self.premiums if kind == SagaKind.PREMIUM else self.credits

    def timeouts(self, kind: str) -> Timeouts:
        return self.decider(kind).timeouts


@dataclass(frozen=True)
class Actor:
    """Who made a transition, as the audit history names them."""

    id: str
    role: str  # customer, adjuster, system


SYSTEM = Actor("system", "system")
ACCOUNTS = Actor("accounts", "system")


def premium_hold_id(policy_id: str) -> str:
    """The hold accounts knows a policy's premium by (and the premium saga's id)."""
    return f"ins-premium-{policy_id}"


def payout_credit_id(claim_id: str) -> str:
    return f"ins-payout-{claim_id}"


def refund_credit_id(policy_id: str) -> str:
    return f"ins-refund-{policy_id}"


def cancellation_refund_id(policy_id: str) -> str:
    """The credit that pays back a cancelled policy's premium (or its unexpired share)."""
    return f"ins-cancel-{policy_id}"


def new_uuid() -> str:
    return str(uuid.uuid4())


def short_ref(uid: str) -> str:
    return uid.replace("-", "")[:12].upper()


async def record(
    ctx: Context,
    uow: UnitOfWork,
    *,
    aggregate: str,
    aggregate_id: str,
    action: str,
    actor: Actor,
    event: Message | None,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Publish the transition's event and write its history row, in the same transaction."""
    envelope = uow.publish(event) if event is not None else None
    uow.session.add(
        store.History(
            aggregate=aggregate,
            aggregate_id=aggregate_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor.id,
            actor_role=actor.role,
            detail=detail or {},
            event_id=envelope.id if envelope else None,
            at=ctx.clock.now(),
        )
    )


async def claim_transition(
    ctx: Context,
    uow: UnitOfWork,
    claim: store.Claim,
    *,
    action: str,
    actor: Actor,
    event_type: type[ev.ClaimEvent],
    to: domain.ClaimStatus | None = None,
    audit: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Move a claim along the SOP (or, with `to=None`, record a step that keeps its status).
    `fields` complete the event; `audit` is extra detail for the history row."""
    before: str | None = claim.status
    if to is not None:
        claim.status = domain.transition(claim.status, to)
    claim.updated_at = ctx.clock.now()
    event = event_type(
        claim_id=claim.id,
        policy_id=claim.policy_id,
        customer_id=claim.customer_id,
        status=claim.status,
        actor_id=actor.id,
        actor_role=actor.role,
        **fields,
    )
    await record(
        ctx,
        uow,
        aggregate="claim",
        aggregate_id=claim.id,
        action=action,
        actor=actor,
        event=event,
        from_status=before,
        to_status=claim.status,
        detail=audit,
    )


def start_saga(
    ctx: Context,
    uow: UnitOfWork,
    *,
    saga_id: str,
    kind: SagaKind,
    policy_id: str,
    account_id: str,
    amount_minor: int,
    currency: str,
    description: str,
    claim_id: str | None = None,
) -> store.Saga:
    """Persist a saga at its first step (a premium reserves, a credit credits) and send
    that step's command, in the caller's transaction."""
    now = ctx.clock.now()
    step = RESERVE if kind == SagaKind.PREMIUM else CREDIT
    saga = store.Saga(
        id=saga_id,
        kind=kind,
        step=None,
        attempts=0,
        deadline_at=None,
        policy_id=policy_id,
        claim_id=claim_id,
        account_id=account_id,
        amount_minor=amount_minor,
        currency=currency,
        description=description[:200],
        correlation_id=correlation_id_var.get(),
        created_at=now,
        updated_at=now,
    )
    first = begin(saga, step, now, ctx.timeouts(kind))
    uow.session.add(saga)
    audit_saga(uow, saga, ended=False)
    for sent in first:
        uow.publish(command(saga, sent))
    return saga


def statement_text(saga: store.Saga) -> acc.StatementText:
    """The saga's lines on the customer's statement and the insurer's, with the policy or the
    claim they belong to."""
    if saga.kind == SagaKind.PAYOUT and saga.claim_id:
        kind, reference_kind, reference_id = LineKind.INSURANCE_CLAIM_PAYOUT, ReferenceKind.CLAIM, saga.claim_id
    elif saga.kind == SagaKind.REFUND:
        kind, reference_kind, reference_id = LineKind.INSURANCE_REFUND, ReferenceKind.POLICY, saga.policy_id
    else:
        kind, reference_kind, reference_id = LineKind.INSURANCE_PREMIUM, ReferenceKind.POLICY, saga.policy_id
    return acc.StatementText(
        reference_kind=reference_kind,
        reference_id=reference_id,
        debit_kind=kind,
        debit_description=saga.description,
        credit_kind=kind,
        credit_description=saga.description,
    )


def command(saga: store.Saga, step: str) -> Message:
    """The command a saga's step sends to accounts (idempotent by the saga's id)."""
    if step == RESERVE:
        return acc.ReserveFunds(
            account_id=saga.account_id,
            hold_id=saga.id,
            amount_minor=saga.amount_minor,
            currency=saga.currency,
            reference=saga.description,
            counts_toward_limit=True,
        )
    if step == CAPTURE:
        return acc.CaptureHold(
            account_id=saga.account_id,
            hold_id=saga.id,
            target_account_id=PREMIUMS_ACCOUNT,
            description=saga.description,
            statement=statement_text(saga),
        )
    if step == RELEASE:
        return acc.ReleaseHold(account_id=saga.account_id, hold_id=saga.id)
    if step == CREDIT:
        source = CLAIMS_ACCOUNT if saga.kind == SagaKind.PAYOUT else PREMIUMS_ACCOUNT
        return acc.CreditAccount(
            account_id=saga.account_id,
            credit_id=saga.id,
            source_account_id=source,
            amount_minor=saga.amount_minor,
            currency=saga.currency,
            description=saga.description,
            statement=statement_text(saga),
        )
    raise ValueError(f"the step {step!r} sends no command")
