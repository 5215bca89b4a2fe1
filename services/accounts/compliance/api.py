"""The compliance queue's routes in accounts, for a principal with the compliance role
(the gateway passes them through under the same paths)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select

from services.accounts.compliance import handlers
from services.accounts.compliance.handlers import Compliance
from shared.auth import ROLE_COMPLIANCE, Principal, require_role
from shared.money import InvalidAmount, format_minor
from shared.pagination import Page, newest_first, next_keyset, paging
from shared.problems import PROBLEM
from shared.schemas.compliance import (
    AlertDecision,
    AlertPage,
    AlertPublic,
    AlertRule,
    AlertStatus,
    MovementPublic,
    ReportPage,
    ReportPublic,
)
from shared.web import RuntimeDep, from_state

router = APIRouter(
    prefix="/v1/admin/compliance",
    tags=["compliance"],
    responses={400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
)

Reviewer = Annotated[Principal, Depends(require_role(ROLE_COMPLIANCE))]
ComplianceDep = Annotated[Compliance, from_state("compliance")]
AlertId = Annotated[str, Path(max_length=36)]
QueuePage = Annotated[Page, paging(cursor_doc="From the previous page's next_cursor")]


def shown(minor: int, currency: str) -> str:
    """An amount as the ledger writes it. A movement in a currency the ledger does not keep
    (a fact accounts never sends, but the module records what it is given) is shown with
    two places rather than failing the whole list."""
    try:
        return format_minor(minor, currency)
    except InvalidAmount:
        return format_minor(minor)


def alert_public(row: Any) -> AlertPublic:
    evidence = [
        MovementPublic.model_validate({**m, "amount": shown(m["amount_minor"], m["currency"])}) for m in row.evidence
    ]
    return AlertPublic(
        id=row.id,
        rule=row.rule,
        category=row.category,
        status=row.status,
        customer_id=row.customer_id,
        account_id=row.account_id,
        detail=row.detail,
        total=shown(row.total_minor, row.currency),
        total_minor=row.total_minor,
        currency=row.currency,
        forced=row.forced,
        evidence=evidence,
        raised_at=row.created_at,
        reviewer=row.reviewer,
        review_started_at=row.review_started_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        report_id=row.report_id,
    )


def report_public(row: Any) -> ReportPublic:
    return ReportPublic(
        id=row.id,
        alert_id=row.alert_id,
        kind=row.kind,
        rule=row.rule,
        customer_id=row.customer_id,
        account_id=row.account_id,
        total=shown(row.total_minor, row.currency),
        total_minor=row.total_minor,
        currency=row.currency,
        filed_by=row.filed_by,
        note=row.note,
        filed_at=row.created_at,
    )


@router.get("/alerts", response_model=AlertPage, summary="The AML alerts, newest first")
async def list_alerts(
    _reviewer: Reviewer,
    runtime: RuntimeDep,
    c: ComplianceDep,
    page: QueuePage,
    status: Annotated[AlertStatus | None, Query()] = None,
    kind: Annotated[AlertRule | None, Query(description="The rule that raised it")] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> AlertPage:
    """Large-value and suspicious-transaction alerts, newest first, by status, rule and
    customer (compliance role)."""
    t = c.tables.alert
    query = select(t)
    if status is not None:
        query = query.where(t.c.status == status)
    if kind is not None:
        query = query.where(t.c.rule == kind)
    if customer_id is not None:
        query = query.where(t.c.customer_id == customer_id)
    async with runtime.db.read() as session:
        rows = list(await session.execute(newest_first(query, t.c, page.cursor, page.limit, of="aml-alerts")))
    return AlertPage(
        items=[alert_public(r) for r in rows[: page.limit]], next_cursor=next_keyset(rows, page.limit, of="aml-alerts")
    )


@router.get("/alerts/{alert_id}", response_model=AlertPublic, summary="One AML alert with its evidence")
async def get_alert(alert_id: AlertId, _reviewer: Reviewer, runtime: RuntimeDep, c: ComplianceDep) -> AlertPublic:
    """An alert, the movements behind it, and its review (compliance role)."""
    return await _read(runtime, c, alert_id)


async def _read(runtime: Any, c: Compliance, alert_id: str) -> AlertPublic:
    t = c.tables.alert
    async with runtime.db.read() as session:
        row = (await session.execute(select(t).where(t.c.id == alert_id))).first()
    if row is None:
        raise handlers.AlertNotFound(f"there is no alert {alert_id!r}")
    return alert_public(row)


@router.post(
    "/alerts/{alert_id}/review",
    response_model=AlertPublic,
    responses={409: PROBLEM},
    summary="Take an alert for review",
)
async def review_alert(alert_id: AlertId, reviewer: Reviewer, runtime: RuntimeDep, c: ComplianceDep) -> AlertPublic:
    """Take an open alert: it is `under_review` by the caller. Taking one's own again
    changes nothing; one another reviewer has, or one already decided, is a 409
    `alert-taken`."""
    async with runtime.unit_of_work() as uow:
        await handlers.take_for_review(c, uow, alert_id, reviewer.subject)
    return await _read(runtime, c, alert_id)


@router.post(
    "/alerts/{alert_id}/decision",
    response_model=AlertPublic,
    responses={409: PROBLEM},
    summary="Decide an alert under review: reported or dismissed",
)
async def decide_alert(
    alert_id: AlertId, body: AlertDecision, reviewer: Reviewer, runtime: RuntimeDep, c: ComplianceDep
) -> AlertPublic:
    """Close an alert the caller has under review, with a note: `reported` files a
    report (large-value or suspicious, by the alert's rule), `dismissed` files none.
    An alert not under review is a 409 `alert-not-under-review`; one under another
    reviewer's, a 409 `alert-taken`."""
    async with runtime.unit_of_work() as uow:
        await handlers.decide(c, uow, alert_id, reviewer.subject, body.decision, body.note)
    return await _read(runtime, c, alert_id)


@router.get("/reports", response_model=ReportPage, summary="Filed AML reports, newest first")
async def list_reports(
    _reviewer: Reviewer,
    runtime: RuntimeDep,
    c: ComplianceDep,
    page: QueuePage,
    kind: Annotated[Literal["large_value", "suspicious"] | None, Query()] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> ReportPage:
    """Large-value and suspicious-transaction reports filed by reviewers' decisions
    (compliance role)."""
    t = c.tables.report
    query = select(t)
    if kind is not None:
        query = query.where(t.c.kind == kind)
    if customer_id is not None:
        query = query.where(t.c.customer_id == customer_id)
    async with runtime.db.read() as session:
        rows = list(await session.execute(newest_first(query, t.c, page.cursor, page.limit, of="aml-reports")))
    return ReportPage(
        items=[report_public(r) for r in rows[: page.limit]],
        next_cursor=next_keyset(rows, page.limit, of="aml-reports"),
    )
