"""KYC upgrades: a customer asks to move up to class I with their identity details; the
sandbox rule (services/accounts/kyc_rules.py) approves or refuses at once, or the
application waits for a compliance officer. An approval changes the customer's class in
the same transaction, so the next reservation sees the new limits. Each decision is
announced as `accounts.KycApplicationDecided` (payments keeps the class it gives for its
per-payment limit) and recorded in the audit trail with the class before and after.

One resident ID number vouches for one customer: an approval binds the number's keyed
digest to the customer (a unique column), and an application or approval with a number
bound to someone else is `409 id-number-in-use`. The key is derived from accounts' own
private key (shared/keys.py, `Keyring.derive`), so neither the number nor the key is
stored. A legal name that is not the customer's registered name is never approved by the
sandbox rule: it waits for a compliance officer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.accounts import domain, kyc_rules, store
from services.accounts.deps import ContextDep, RuntimeDep
from services.accounts.freezes import ComplianceOfficer
from services.accounts.handlers import Context
from shared import audit
from shared.auth import CurrentCustomer
from shared.errors import DomainError
from shared.events import accounts as ev
from shared.kafka.messaging import UnitOfWork
from shared.problems import PROBLEM, not_found
from shared.schemas.kyc import (
    KycApplicationList,
    KycApplicationPublic,
    KycClassLimits,
    KycDecisionCreate,
    KycPublic,
    KycUpgradeCreate,
)

router = APIRouter(tags=["kyc"])

ERROR_STATUSES: dict[type[DomainError], int] = {
    kyc_rules.KycNotAllowed: 409,
    kyc_rules.ApplicationPending: 409,
    kyc_rules.ApplicationDecided: 409,
    kyc_rules.IdNumberInUse: 409,
}
TARGET_CLASS = "I"
QUEUE_LIMIT = 200
# What accounts' key pair derives the ID-number digest key for (Keyring.derive).
ID_NUMBER_KEY_PURPOSE = "kyc-id-number-digest"
UPGRADE_CONFLICT: dict[str, Any] = {
    **PROBLEM,
    "description": "Already class I (`kyc-not-allowed`), an application waiting (`kyc-application-pending`), or "
    "the ID number already vouches for another customer (`id-number-in-use`)",
}


def public(row: store.KycApplication) -> KycApplicationPublic:
    return KycApplicationPublic(
        id=row.id,
        customer_id=row.customer_id,
        legal_name=row.legal_name,
        id_number=row.id_number_masked,
        face_match_score=row.face_match_score,
        from_class=row.from_class,
        to_class=row.to_class,
        status=kyc_rules.Status(row.status).value,
        reason=row.reason,
        decided_by=row.decided_by,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


async def _bound_to(uow: UnitOfWork, digest: str | None) -> str | None:
    """The customer the number with this digest vouches for, if any."""
    if digest is None:
        return None
    return await uow.session.scalar(select(store.Customer.id).where(store.Customer.id_number_digest == digest))


async def _bind(uow: UnitOfWork, customer: store.Customer, digest: str | None) -> None:
    """Bind the number to the customer. The unique column is what holds under concurrency:
    on SQLite the writer's BEGIN IMMEDIATE already serialises the check before it, on
    PostgreSQL the second of two concurrent binds waits for the first and fails here."""
    if digest is None:  # an application from before digests were kept
        return
    customer.id_number_digest = digest
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if "id_number_digest" not in str(error.orig):
            raise
        raise kyc_rules.IdNumberInUse("this ID number already vouches for another customer's KYC class") from None


async def _settle(
    ctx: Context, uow: UnitOfWork, app: store.KycApplication, customer: store.Customer, officer: str
) -> None:
    """Record a decided application: an approval binds the ID number to the customer and
    moves it to its class; either way the decision is announced and goes in the audit trail."""
    app.decided_by, app.decided_at = officer, ctx.clock.now()
    before = {"kyc_class": customer.kyc_class}
    if app.status == kyc_rules.Status.APPROVED:
        await _bind(uow, customer, app.id_number_digest)
        customer.kyc_class = app.to_class
    uow.audit(
        at=app.decided_at,
        actor=officer,
        action=f"kyc.{app.status}",
        subject_kind="kyc_application",
        subject_id=app.id,
        customer_id=customer.id,
        before=before,
        after={"kyc_class": customer.kyc_class, "status": app.status, "reason": app.reason},
    )
    uow.publish(
        ev.KycApplicationDecided(
            customer_id=customer.id,
            application_id=app.id,
            status="approved" if app.status == kyc_rules.Status.APPROVED else "refused",
            reason=app.reason,
            kyc_class=customer.kyc_class,
            decided_by=officer,
        )
    )


async def _pending(uow: UnitOfWork, customer_id: str) -> bool:
    found = await uow.session.scalar(
        select(store.KycApplication.id).where(
            store.KycApplication.customer_id == customer_id,
            store.KycApplication.status == kyc_rules.Status.PENDING,
        )
    )
    return found is not None


async def submit_application(
    ctx: Context, uow: UnitOfWork, customer_id: str, body: KycUpgradeCreate, id_number_key: bytes
) -> store.KycApplication:
    """Check the identity details, record the application and let the sandbox rule decide
    it at once where it can. A number bound to another customer changes nothing."""
    id_number = kyc_rules.check_id_number(body.id_number, ctx.clock.bank_day())
    digest = id_number.digest(id_number_key)
    customer = await uow.session.get(store.Customer, customer_id, with_for_update=True)
    if customer is None:
        raise kyc_rules.KycNotAllowed("the customer has no profile in accounts")
    kyc_rules.check_can_apply(customer.kyc_class, await _pending(uow, customer_id))
    kyc_rules.check_id_number_free(await _bound_to(uow, digest), customer_id)
    decision = kyc_rules.decide(
        id_number,
        body.face_match_score,
        kyc_rules.AUTO_APPROVE_SCORE,
        name_matches=kyc_rules.same_name(body.legal_name, customer.name),
    )
    app = store.KycApplication(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        legal_name=body.legal_name.strip(),
        id_number_masked=id_number.masked,
        id_number_digest=digest,
        face_match_score=body.face_match_score,
        from_class=customer.kyc_class,
        to_class=TARGET_CLASS,
        status=decision.status.value,
        reason=decision.reason,
        created_at=ctx.clock.now(),
    )
    uow.session.add(app)
    if decision.status != kyc_rules.Status.PENDING:
        await _settle(ctx, uow, app, customer, "system:kyc-sandbox-rule")
    return app


async def decide_application(
    ctx: Context, uow: UnitOfWork, application_id: str, body: KycDecisionCreate, officer: str
) -> store.KycApplication:
    """A compliance officer's decision on a pending application."""
    app = await uow.session.get(store.KycApplication, application_id, with_for_update=True)
    if app is None:
        raise not_found("KYC application", application_id)
    if app.status != kyc_rules.Status.PENDING:
        raise kyc_rules.ApplicationDecided(f"the application was already {app.status}")
    customer = await uow.session.get(store.Customer, app.customer_id, with_for_update=True)
    if customer is None:
        raise not_found("customer", app.customer_id)
    approved = body.decision == "approve"
    if approved:
        kyc_rules.check_id_number_free(await _bound_to(uow, app.id_number_digest), customer.id)
    app.status = (kyc_rules.Status.APPROVED if approved else kyc_rules.Status.REFUSED).value
    app.reason = body.reason.strip()
    await _settle(ctx, uow, app, customer, officer)
    return app


@router.post(
    "/v1/me/kyc/upgrade",
    status_code=201,
    response_model=KycApplicationPublic,
    responses={404: PROBLEM, 409: UPGRADE_CONFLICT, 422: PROBLEM},
    summary="Apply for KYC class I",
)
async def apply_for_upgrade(
    body: KycUpgradeCreate, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> KycApplicationPublic:
    """Submit identity details to move up to class I. A legal name other than your
    registered name waits for a compliance officer (`reason: legal_name_mismatch`). 409 if
    already class I, an application is waiting, or the ID number already vouches for
    another customer (`id-number-in-use`)."""
    key = runtime.keys.derive(ID_NUMBER_KEY_PURPOSE)
    async with runtime.unit_of_work() as uow:
        app = await submit_application(ctx, uow, principal.customer_id, body, key)
    return public(app)


@router.get("/v1/me/kyc", response_model=KycPublic, responses={404: PROBLEM}, summary="Your KYC class")
async def my_kyc(principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> KycPublic:
    """Your KYC class, its daily and balance limits, and your latest upgrade application."""
    async with runtime.db.read() as session:
        customer = await session.get(store.Customer, principal.customer_id)
        if customer is None:
            raise not_found("customer", principal.customer_id)
        latest = await session.scalar(
            select(store.KycApplication)
            .where(store.KycApplication.customer_id == customer.id)
            .order_by(store.KycApplication.created_at.desc(), store.KycApplication.id.desc())
            .limit(1)
        )
    kyc_class = domain.KycClass(customer.kyc_class)
    limits = KycClassLimits(
        daily_outflow_minor=ctx.limits.daily_outflow_minor.get(kyc_class),
        balance_cap_minor=ctx.limits.balance_cap_minor.get(kyc_class),
    )
    return KycPublic(kyc_class=customer.kyc_class, limits=limits, application=public(latest) if latest else None)


@router.get(
    "/v1/admin/kyc/applications",
    response_model=KycApplicationList,
    tags=["operator"],
    responses={403: PROBLEM},
    summary="KYC upgrade applications (compliance)",
)
async def list_applications(
    _officer: ComplianceOfficer,
    runtime: RuntimeDep,
    status: Annotated[Literal["pending", "approved", "refused"] | None, Query()] = None,
) -> KycApplicationList:
    """Applications, oldest first, of one status if asked (the queue: `status=pending`)."""
    query = select(store.KycApplication).order_by(store.KycApplication.created_at, store.KycApplication.id)
    if status is not None:
        query = query.where(store.KycApplication.status == status)
    async with runtime.db.read() as session:
        rows = (await session.scalars(query.limit(QUEUE_LIMIT))).all()
    return KycApplicationList(items=[public(r) for r in rows])


@router.post(
    "/v1/admin/kyc/applications/{application_id}/decision",
    response_model=KycApplicationPublic,
    tags=["operator"],
    responses={403: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    summary="Decide a KYC upgrade application (compliance)",
)
async def decide(
    application_id: str, body: KycDecisionCreate, officer: ComplianceOfficer, runtime: RuntimeDep, ctx: ContextDep
) -> KycApplicationPublic:
    """Approve (the customer becomes class I at once) or refuse a pending application. 409 if
    it was already decided, or, on approval, if its ID number meanwhile vouches for another
    customer (`id-number-in-use`: refuse it)."""
    async with runtime.unit_of_work() as uow:
        app = await decide_application(ctx, uow, application_id, body, audit.actor_of(officer))
    return public(app)
