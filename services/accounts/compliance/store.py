"""The AML module's own tables, declared on the metadata its process hands it (as the
messaging tables are), and the queries its handlers and routes need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.compliance.rules import Direction, Kind, Movement, Rule
from shared.db import UtcDateTime


@dataclass(frozen=True)
class ComplianceTables:
    account: Table
    movement: Table
    alert: Table
    report: Table


def compliance_tables(metadata: MetaData) -> ComplianceTables:
    account = Table(
        "compliance_account",
        metadata,
        # Who holds each account, as AccountOpened told it: the module reads no ledger table.
        Column("account_id", String(64), primary_key=True),
        Column("customer_id", String(36)),
        Column("kind", String(20), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("opened_at", UtcDateTime, nullable=False),
        Column("last_movement_at", UtcDateTime),
    )
    movement = Table(
        "compliance_movement",
        metadata,
        Column("id", String(100), primary_key=True),
        Column("at", UtcDateTime, nullable=False),  # the sandbox clock, as the ledger posted it
        Column("account_id", String(64), nullable=False),
        Column("customer_id", String(36)),
        Column("direction", String(3), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("amount_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("counterparty_account_id", String(64), nullable=False),
        Column("counterparty_customer_id", String(36)),
        Index("ix_compliance_movement_customer_at", "customer_id", "at"),
    )
    alert = Table(
        "compliance_alert",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("rule", String(20), nullable=False),
        Column("category", String(20), nullable=False),
        Column("customer_id", String(36), nullable=False),
        Column("account_id", String(64), nullable=False),
        # One alert per window: the rule's key for it (rules.Finding.key).
        Column("dedup_key", String(200), nullable=False, unique=True),
        Column("status", String(20), nullable=False),
        Column("detail", String(300), nullable=False),
        Column("total_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("forced", Boolean, nullable=False),
        Column("evidence", JSON, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),  # raised, on the sandbox clock
        Column("reviewer", String(64)),
        Column("review_started_at", UtcDateTime),
        Column("decided_by", String(64)),
        Column("decided_at", UtcDateTime),
        Column("decision_note", Text),
        Column("report_id", String(36)),
        Index("ix_compliance_alert_customer_created", "customer_id", "created_at"),
        Index("ix_compliance_alert_status_created", "status", "created_at"),
    )
    report = Table(
        "compliance_report",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("alert_id", String(36), nullable=False, unique=True),
        Column("kind", String(20), nullable=False),  # large_value or suspicious
        Column("rule", String(20), nullable=False),
        Column("customer_id", String(36), nullable=False),
        Column("account_id", String(64), nullable=False),
        Column("total_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("filed_by", String(64), nullable=False),
        Column("note", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
    )
    return ComplianceTables(account, movement, alert, report)


def evidence_row(m: Movement) -> dict[str, Any]:
    return {
        "id": m.id,
        "at": m.at.isoformat(),
        "account_id": m.account_id,
        "customer_id": m.customer_id,
        "direction": str(m.direction),
        "kind": str(m.kind),
        "amount_minor": m.amount_minor,
        "currency": m.currency,
        "counterparty_account_id": m.counterparty_account_id,
        "counterparty_customer_id": m.counterparty_customer_id,
    }


def movement_row(m: Movement) -> dict[str, Any]:
    row = evidence_row(m)
    row["at"] = m.at
    return row


def _movement(row: Any) -> Movement:
    return Movement(
        id=row.id,
        at=row.at,
        account_id=row.account_id,
        customer_id=row.customer_id,
        direction=Direction(row.direction),
        kind=Kind(row.kind),
        amount_minor=row.amount_minor,
        currency=row.currency,
        counterparty_account_id=row.counterparty_account_id,
        counterparty_customer_id=row.counterparty_customer_id,
    )


async def accounts(session: AsyncSession, t: ComplianceTables, ids: Sequence[str]) -> dict[str, Any]:
    rows = await session.execute(select(t.account).where(t.account.c.account_id.in_(ids)))
    return {row.account_id: row for row in rows}


async def movements_since(
    session: AsyncSession, t: ComplianceTables, customer_id: str, since: datetime
) -> list[Movement]:
    """The customer's movements from `since` on, oldest first."""
    rows = await session.execute(
        select(t.movement)
        .where(t.movement.c.customer_id == customer_id, t.movement.c.at >= since)
        .order_by(t.movement.c.at, t.movement.c.id)
    )
    return [_movement(row) for row in rows]


async def covered(
    session: AsyncSession, t: ComplianceTables, customer_id: str, since: datetime
) -> dict[Rule, frozenset[str]]:
    """The movements each rule already raised on for the customer, from `since` on."""
    rows = await session.execute(
        select(t.alert.c.rule, t.alert.c.evidence).where(
            t.alert.c.customer_id == customer_id, t.alert.c.created_at >= since
        )
    )
    found: dict[Rule, set[str]] = {}
    for rule, evidence in rows:
        found.setdefault(Rule(rule), set()).update(item["id"] for item in evidence)
    return {rule: frozenset(ids) for rule, ids in found.items()}


async def alert_exists(session: AsyncSession, t: ComplianceTables, key: str) -> bool:
    return await session.scalar(select(t.alert.c.id).where(t.alert.c.dedup_key == key)) is not None


async def mark_active(session: AsyncSession, t: ComplianceTables, account_id: str, at: datetime) -> None:
    await session.execute(update(t.account).where(t.account.c.account_id == account_id).values(last_movement_at=at))
