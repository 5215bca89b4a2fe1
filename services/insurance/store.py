"""insurance tables and the queries the handlers need."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    and_,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.insurance import domain
from shared.db import UtcDateTime, naming_metadata
from shared.kafka.messaging import messaging_tables
from shared.migrations import Migrations
from shared.saga.store import SagaColumns


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
migrations = Migrations(Base.metadata, Path(__file__).with_name("migrations"))


class Product(Base):
    """The product catalogue, seeded from `domain.CATALOGUE` at start-up; quotes and
    policies read their rules from here."""

    __tablename__ = "product"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Quote(Base):
    __tablename__ = "quote"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    product_version: Mapped[int] = mapped_column(Integer)
    age: Mapped[int] = mapped_column(Integer)
    term_days: Mapped[int] = mapped_column(Integer)
    sum_insured_minor: Mapped[int] = mapped_column(BigInteger)
    premium_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The purchase that holds this quote; cleared again if that purchase fails.
    policy_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Policy(Base):
    __tablename__ = "policy"
    # The gateway's Idempotency-Key travels here too: one purchase per customer and key.
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key", name="uq_policy_customer_id_idempotency_key"),
        Index("ix_policy_customer_created", "customer_id", "created_at", "id"),
        # The lifecycle job's scan: active (or expired) policies past a date.
        Index("ix_policy_status_ends_on", "status", "ends_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    quote_id: Mapped[str] = mapped_column(String(36), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str] = mapped_column(String(64))
    insured_age: Mapped[int] = mapped_column(Integer)
    term_days: Mapped[int] = mapped_column(Integer)
    waiting_days: Mapped[int] = mapped_column(Integer)
    sum_insured_minor: Mapped[int] = mapped_column(BigInteger)
    premium_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    failure_detail: Mapped[str | None] = mapped_column(String(300))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    covered_from: Mapped[date | None] = mapped_column(Date)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The start of cover the customer asked for (None: the day the premium is paid).
    requested_starts_on: Mapped[date | None] = mapped_column(Date)
    # The product's cooling-off period when the policy was bought (days after issue).
    cooling_off_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A renewal names the policy it renews; the renewed policy names its renewal (set when
    # the renewal is bought, cleared again if its premium is not collected).
    renewal_of: Mapped[str | None] = mapped_column(String(36))
    renewed_by: Mapped[str | None] = mapped_column(String(36))
    # When the lifecycle job saw a cover bought for a later day start (PolicyCoverStarted).
    cover_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refund_minor: Mapped[int | None] = mapped_column(BigInteger)
    refund_basis: Mapped[str | None] = mapped_column(String(20))
    # The insured person and the beneficiaries named at purchase (domain.Person.to_dict);
    # no insured person: the policyholder; no beneficiaries: the insured's legal heirs.
    insured: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    beneficiaries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")


class Saga(SagaColumns, Base):
    """One flow through accounts: a premium purchase, a claim payout or a premium refund
    (`kind`), on the saga primitive's row shape. Its id is the business id accounts sees
    (the hold id or the credit id), so every fact from accounts finds it by primary key."""

    __tablename__ = "saga"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(36), index=True)
    claim_id: Mapped[str | None] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[str | None] = mapped_column(String(36))


class Claim(Base):
    __tablename__ = "claim"
    __table_args__ = (
        Index("ix_claim_customer_created", "customer_id", "created_at", "id"),
        Index("ix_claim_status_created", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    policy_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    cause: Mapped[str | None] = mapped_column(String(40))
    incident_date: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500))
    payout_account_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    approvals_required: Mapped[int] = mapped_column(Integer, default=0)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    rejection_reason: Mapped[str | None] = mapped_column(String(40))
    rejection_detail: Mapped[str | None] = mapped_column(String(500))
    payout_id: Mapped[str | None] = mapped_column(String(64))
    # Settlement: what was approved, the deductible taken from it, and what is paid.
    approved_minor: Mapped[int | None] = mapped_column(BigInteger)
    deductible_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    payout_minor: Mapped[int | None] = mapped_column(BigInteger)
    # What the adjuster last asked the customer for (status info_requested).
    info_request: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClaimDocument(Base):
    """A document the customer added to a claim: an uploaded file (its bytes in
    `claim_document_content`, `content_type` set) or, from older clients, metadata only
    (no content, `content_type` None)."""

    __tablename__ = "claim_document"
    __table_args__ = (
        UniqueConstraint("claim_id", "checksum", name="uq_claim_document_claim_id_checksum"),
        # The fraud rule's look-up: the same file on another claim.
        Index("ix_claim_document_checksum", "checksum"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    content_type: Mapped[str | None] = mapped_column(String(40), default=None)


class ClaimDocumentContent(Base):
    """An uploaded document's bytes, a row beside its metadata: written in the same
    transaction (no file without its row, no row without its file, on SQLite and
    PostgreSQL alike), and read only when someone downloads it."""

    __tablename__ = "claim_document_content"

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ClaimFlag(Base):
    """A fraud rule that flagged a claim when it was submitted (domain/fraud.py), with
    its reason and the ids that show it. Written once per rule and claim, never changed."""

    __tablename__ = "claim_flag"
    # The unique constraint's index also finds a claim's flags (claim_id first).
    __table_args__ = (UniqueConstraint("claim_id", "rule", name="uq_claim_flag_claim_id_rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(36))
    rule: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(500))
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClaimDecision(Base):
    """An adjuster's decision. One per adjuster and claim, so nobody approves twice."""

    __tablename__ = "claim_decision"
    __table_args__ = (UniqueConstraint("claim_id", "adjuster_id", name="uq_claim_decision_claim_id_adjuster_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(36), index=True)
    adjuster_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(500))
    # An approval of less than the amount claimed.
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class History(Base):
    """The audit trail of policies and claims: who did what, when, from which status to
    which, and the id of the event it published."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_aggregate", "aggregate", "aggregate_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregate: Mapped[str] = mapped_column(String(10))
    aggregate_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- queries ------------------------------------------------------------------------------

T = TypeVar("T", bound=Base)


class MissingRow(LookupError):
    """A row that another row names is not there: the database is inconsistent, not the
    request wrong (a consumer dead-letters the fact; an API answers 500)."""


async def required(session: AsyncSession, model: type[T], key: str, *, for_update: bool = False) -> T:
    row = await session.get(model, key, with_for_update=for_update)
    if row is None:
        raise MissingRow(f"{model.__tablename__} {key} is not in the database")
    return row


async def sagas_for_update(session: AsyncSession, ids: Iterable[str]) -> list[Saga]:
    return list((await session.scalars(select(Saga).where(Saga.id.in_(list(ids))).with_for_update())).all())


async def products(session: AsyncSession) -> list[domain.Product]:
    rows = (await session.scalars(select(Product).order_by(Product.code))).all()
    return [domain.Product.from_dict(r.definition) for r in rows]


async def product(session: AsyncSession, code: str) -> domain.Product:
    row = await session.get(Product, code)
    if row is None:
        raise domain.UnknownProduct(f"there is no product {code!r}")
    return domain.Product.from_dict(row.definition)


async def claims_of_policy(session: AsyncSession, policy_id: str) -> list[Claim]:
    return list((await session.scalars(select(Claim).where(Claim.policy_id == policy_id))).all())


async def documents(session: AsyncSession, claim_id: str) -> list[ClaimDocument]:
    return list(
        (
            await session.scalars(
                select(ClaimDocument)
                .where(ClaimDocument.claim_id == claim_id)
                .order_by(ClaimDocument.created_at, ClaimDocument.id)
            )
        ).all()
    )


async def documents_elsewhere(session: AsyncSession, claim_id: str, checksums: Iterable[str]) -> list[ClaimDocument]:
    """Documents of other claims (any customer's) with one of these checksums."""
    wanted = sorted(set(checksums))
    if not wanted:
        return []
    return list(
        (
            await session.scalars(
                select(ClaimDocument)
                .where(ClaimDocument.checksum.in_(wanted), ClaimDocument.claim_id != claim_id)
                .order_by(ClaimDocument.created_at, ClaimDocument.id)
            )
        ).all()
    )


async def flags(session: AsyncSession, claim_ids: Iterable[str]) -> dict[str, list[ClaimFlag]]:
    """The fraud flags of these claims, by claim id, in the order they were raised."""
    ids = list(claim_ids)
    found: dict[str, list[ClaimFlag]] = {i: [] for i in ids}
    if ids:
        rows = await session.scalars(select(ClaimFlag).where(ClaimFlag.claim_id.in_(ids)).order_by(ClaimFlag.id))
        for row in rows:
            found[row.claim_id].append(row)
    return found


async def decisions(session: AsyncSession, claim_id: str) -> list[ClaimDecision]:
    return list(
        (
            await session.scalars(
                select(ClaimDecision).where(ClaimDecision.claim_id == claim_id).order_by(ClaimDecision.id)
            )
        ).all()
    )


async def history(session: AsyncSession, aggregate: str, aggregate_id: str) -> list[History]:
    return list(
        (
            await session.scalars(
                select(History)
                .where(History.aggregate == aggregate, History.aggregate_id == aggregate_id)
                .order_by(History.id)
            )
        ).all()
    )


def policy_terms(policy: Policy) -> domain.PolicyTerms:
    return domain.PolicyTerms(
        status=policy.status,
        starts_on=policy.starts_on,
        ends_on=policy.ends_on,
        covered_from=policy.covered_from,
        sum_insured_minor=policy.sum_insured_minor,
    )


def other_claim(claim: Claim) -> domain.OtherClaim:
    return domain.OtherClaim(
        id=claim.id,
        kind=claim.kind,
        incident_date=claim.incident_date,
        # An approved claim uses up what it pays, not what was claimed.
        amount_minor=claim.payout_minor if claim.payout_minor is not None else claim.amount_minor,
        status=claim.status,
        created_at=claim.created_at,
    )


def status_today(policy: Policy, today: date) -> domain.PolicyStatus:
    """The policy's status on the sandbox clock's `today` (its dates decide pending,
    active, expired and lapsed before the lifecycle job writes them down)."""
    return domain.status_on(policy.status, policy.starts_on, policy.ends_on, policy.renewed_by is not None, today)


def status_filter(status: str, today: date) -> Any:
    """The WHERE clause that selects the policies whose status today is `status`."""
    s = domain.PolicyStatus
    paid = Policy.status.in_([s.ACTIVE, s.EXPIRED, s.LAPSED])
    lapsed = or_(
        Policy.status == s.LAPSED,
        and_(paid, Policy.renewed_by.is_(None), Policy.ends_on < today - domain.RENEWAL_GRACE),
    )
    if status == s.PENDING:
        return or_(Policy.status == s.PENDING, and_(paid, Policy.starts_on > today))
    if status == s.ACTIVE:
        return and_(paid, Policy.starts_on <= today, Policy.ends_on >= today)
    if status == s.EXPIRED:
        return and_(paid, Policy.ends_on < today, not_(lapsed))
    if status == s.LAPSED:
        return and_(paid, Policy.ends_on < today, lapsed)
    return Policy.status == status


async def live_claims(session: AsyncSession, policy_id: str) -> int:
    """Claims on the policy that were not rejected (in progress, approved or paid)."""
    found = await session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.policy_id == policy_id, Claim.status != domain.ClaimStatus.REJECTED)
    )
    return int(found or 0)
