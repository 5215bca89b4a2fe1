"""The compliance queue (AML alerts and reports), for a principal with the compliance
role: accounts' AML module answers, the gateway passes each call through as the caller."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from gateway.deps import Compliance, UpstreamsDep
from gateway.routing.routes import segment
from shared.pagination import Page, paging
from shared.problems import PROBLEM
from shared.schemas.compliance import AlertDecision, AlertPage, AlertPublic, AlertRule, AlertStatus, ReportPage

router = APIRouter(
    prefix="/v1/admin/compliance",
    tags=["compliance", "operator"],
    responses={400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM, 503: PROBLEM},
)

AlertId = Annotated[str, Path(max_length=36)]
QueuePage = Annotated[Page, paging(cursor_doc="From the previous page's next_cursor")]


@router.get("/alerts", response_model=AlertPage)
async def list_compliance_alerts(
    request: Request,
    reviewer: Compliance,
    upstreams: UpstreamsDep,
    _page: QueuePage,
    status: Annotated[AlertStatus | None, Query()] = None,
    kind: Annotated[AlertRule | None, Query(description="The rule that raised it")] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    """The AML alerts, newest first: large-value transactions (`large_cash`,
    `large_transfer`) and suspicious patterns (`structuring`, `rapid_in_out`, `dormant`,
    `many_payers`), by status, rule and customer. Each carries its evidence."""
    return await upstreams.forward("accounts", request, "/v1/admin/compliance/alerts", caller=reviewer)


@router.get("/alerts/{alert_id}", response_model=AlertPublic)
async def get_compliance_alert(
    alert_id: AlertId, request: Request, reviewer: Compliance, upstreams: UpstreamsDep
) -> Response:
    """One alert, the movements behind it and its review."""
    path = f"/v1/admin/compliance/alerts/{segment('alert_id', alert_id)}"
    return await upstreams.forward("accounts", request, path, caller=reviewer)


@router.post("/alerts/{alert_id}/review", response_model=AlertPublic, responses={409: PROBLEM})
async def review_compliance_alert(
    alert_id: AlertId, request: Request, reviewer: Compliance, upstreams: UpstreamsDep
) -> Response:
    """Take an open alert for review (`open` -> `under_review`, by the caller). Taking
    one's own again changes nothing; another reviewer's, or a decided one, is a 409
    `alert-taken`."""
    path = f"/v1/admin/compliance/alerts/{segment('alert_id', alert_id)}/review"
    return await upstreams.forward("accounts", request, path, caller=reviewer)


@router.post("/alerts/{alert_id}/decision", response_model=AlertPublic, responses={409: PROBLEM})
async def decide_compliance_alert(
    alert_id: AlertId, body: AlertDecision, request: Request, reviewer: Compliance, upstreams: UpstreamsDep
) -> Response:
    """Close an alert the caller has under review, with a note: `reported` files a
    large-value or suspicious-transaction report, `dismissed` files none. Not under review:
    409 `alert-not-under-review`; under another reviewer's: 409 `alert-taken`."""
    path = f"/v1/admin/compliance/alerts/{segment('alert_id', alert_id)}/decision"
    return await upstreams.forward("accounts", request, path, caller=reviewer)


@router.get("/reports", response_model=ReportPage)
async def list_compliance_reports(
    request: Request,
    reviewer: Compliance,
    upstreams: UpstreamsDep,
    _page: QueuePage,
    kind: Annotated[Literal["large_value", "suspicious"] | None, Query()] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    """Filed reports, newest first: large-value (大额交易报告) and suspicious-transaction
    (可疑交易报告), each naming the alert it came from."""
    return await upstreams.forward("accounts", request, "/v1/admin/compliance/reports", caller=reviewer)
