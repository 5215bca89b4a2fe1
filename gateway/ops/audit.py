"""The audit trail across the stack (shared/audit.py), for operators: every process's
entries merged by time, exported as CSV or JSON lines, and every chain's check. And the
gateway's own entries: one per successful state-changing request by a signed-in person
(`AuditMiddleware`)."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.deps import GatewayDep, Operator
from gateway.ops.api import SERVICES
from gateway.routing.upstream import ITSELF, UpstreamResponse
from shared import audit
from shared.internal import route_path
from shared.pagination import Page, paging
from shared.problems import PROBLEM, Problem
from shared.runtime import Runtime

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/admin/audit", tags=["operator"], responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROCESSES = ("gateway", *SERVICES)


class AuditMiddleware:
    """After a successful POST, PUT, PATCH or DELETE by a signed-in customer, adjuster or
    operator, one entry in the gateway's trail: who, the method and route template, the
    subject from the path, the request and correlation ids. Never a body: passwords,
    codes and tokens stay out of the trail. Entries are queued on the gateway's
    `AuditWriter`, which appends them many to a transaction, in the order they came."""

    def __init__(self, app: ASGIApp, runtime: Runtime, trail: audit.AuditWriter) -> None:
        self.app = app
        self.runtime = runtime
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in CHANGES:
            await self.app(scope, receive, send)
            return
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, sending)
        principal = (scope.get("state") or {}).get("principal")
        if principal is None or not 200 <= status < 400:
            return
        try:
            self.trail.add(self._draft(scope, principal))
        except Exception:
            # The change is made and answered; a lost entry is logged, never a failed request.
            log.exception("audit entry for %s %s not recorded", scope["method"], scope["path"])

    def _draft(self, scope: Scope, principal: Any) -> dict[str, Any]:
        route = scope.get("route")
        template = getattr(route, "path", None) or route_path(scope)
        params: dict[str, Any] = scope.get("path_params") or {}
        subject_kind, subject_id = next(
            ((name.removesuffix("_id"), str(value)) for name, value in params.items()), (None, None)
        )
        customer = principal.subject if principal.has("customer") else None
        return audit.entry(
            at=self.runtime.clock.now(),
            service=self.runtime.service,
            actor=audit.actor_of(principal),
            action=f"{scope['method']} {template}",
            subject_kind=subject_kind,
            subject_id=subject_id,
            customer_id=customer,
            account_id=str(params["account_id"]) if "account_id" in params else None,
        )


class AuditTrail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [audit.AUDIT_ENTRY_EXAMPLE], "next_cursor": None, "unavailable": []}]}
    )

    items: list[audit.AuditEntry] = Field(description="Oldest first, by time on the sandbox clock")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")
    unavailable: list[str] = Field(description="Processes that did not answer: their entries are missing")


class AuditVerification(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": False,
                    "processes": [
                        {"service": "gateway", "ok": True, "rows_checked": 12, "broken": None},
                        {
                            "service": "accounts",
                            "ok": False,
                            "rows_checked": 7,
                            "broken": {"seq": 7, "reason": "the row's content does not match its hash"},
                        },
                    ],
                    "unavailable": [],
                }
            ]
        }
    )

    ok: bool = Field(description="Every process's chain verified and every process answered")
    processes: list[audit.ChainCheck]
    unavailable: list[str]


class Filters(BaseModel):
    customer_id: str | None = None
    account_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filters(
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    account_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=100, description="e.g. `customer:<id>`, `system:payments`")] = None,
    action: Annotated[str | None, Query(max_length=200, description="e.g. `account.frozen`, `saga.started`")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="From this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Until this time (exclusive)")] = None,
) -> Filters:
    for when in (since, until):
        if when is not None and when.tzinfo is None:
            raise Problem(422, "invalid-time", "times need a zone, e.g. 2025-06-02T09:00:00Z")
    return Filters(customer_id=customer_id, account_id=account_id, actor=actor, action=action, since=since, until=until)


FiltersDep = Annotated[Filters, Depends(_filters)]


async def _page(gw: Any, f: Filters, cursor: str | None, limit: int) -> AuditTrail:
    """One merged page: each process's first `limit` entries after `cursor`."""
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("customer_id", f.customer_id), ("account_id", f.account_id), ("actor", f.actor)):
        if value is not None:
            params[name] = value
    if f.action is not None:
        params["action"] = f.action
    if f.since is not None:
        params["from"] = f.since.isoformat()
    if f.until is not None:
        params["to"] = f.until.isoformat()
    if cursor is not None:
        params["cursor"] = cursor
    answers = await asyncio.gather(
        *(_call(gw, p, "/internal/audit", params) for p in PROCESSES), return_exceptions=True
    )
    pages, unavailable = [], []
    for process, answer in zip(PROCESSES, answers, strict=True):
        if isinstance(answer, UpstreamResponse) and answer.status_code == 200:
            pages.append(audit.AuditPage.model_validate(answer.json()).items)
        elif isinstance(answer, UpstreamResponse) and answer.status_code == 422:
            raise Problem(422, "invalid-cursor", "the cursor is not one this trail gave out")
        else:
            unavailable.append(process)
    items, after = audit.merge(pages, limit)
    return AuditTrail(items=items, next_cursor=after.encode() if after else None, unavailable=unavailable)


async def _call(gw: Any, process: str, path: str, params: dict[str, Any] | None = None) -> UpstreamResponse:
    if process == "gateway":
        return await _itself(gw, path, params or {})
    return await gw.upstreams.call(process, "GET", path, caller=ITSELF, params=params)


async def _itself(gw: Any, path: str, params: dict[str, Any]) -> UpstreamResponse:
    """The gateway's own trail, read from its database as a service's answer would be."""
    runtime: Runtime = gw.runtime
    tables = runtime.tables.audit
    await gw.audit.flush()  # what was answered before this request is in the trail it reads
    async with runtime.db.read() as session:
        if path.endswith("/verify"):
            body: Any = (await audit.verify(session, tables, runtime.service)).model_dump(mode="json")
        else:
            try:
                after = audit.Cursor.decode(params["cursor"]) if params.get("cursor") else None
            except ValueError:
                return UpstreamResponse("gateway", 422, b"{}", {})
            found = audit.AuditFilter(
                params.get("customer_id"),
                params.get("account_id"),
                params.get("actor"),
                params.get("action"),
                datetime.fromisoformat(params["from"]) if "from" in params else None,
                datetime.fromisoformat(params["to"]) if "to" in params else None,
                after,
            )
            items = await audit.query(session, tables, runtime.service, found, limit=params["limit"])
            body = audit.AuditPage(service=runtime.service, items=items, next_cursor=None).model_dump(mode="json")
    return UpstreamResponse("gateway", 200, orjson.dumps(body), {})


TrailPage = Annotated[Page, paging(default=100, most=500, cursor_doc="`next_cursor` of the page before")]


@router.get("", response_model=AuditTrail)
async def list_audit(
    _operator: Operator,
    gw: GatewayDep,
    f: FiltersDep,
    page: TrailPage,
) -> AuditTrail:
    """The audit trail of every process (gateway, accounts, payments, securities,
    insurance), merged by time on the sandbox clock, oldest first: who (`actor`), what
    (`action`), on what (`subject_kind`, `subject_id`, `customer_id`, `account_id`), the
    state before and after where it applies, and the request and correlation ids.
    Filters combine; `from`/`to` bound the time."""
    return await _page(gw, f, page.cursor, page.limit)


EXPORT_COLUMNS = (*audit.HASHED, "prev_hash", "hash")
EXPORT_PAGE = 500


async def _entries(gw: Any, f: Filters) -> AsyncIterator[audit.AuditEntry]:
    cursor: str | None = None
    while True:
        page = await _page(gw, f, cursor, EXPORT_PAGE)
        if page.unavailable:
            # A file with a hole in it would read as the whole trail.
            raise Problem(503, "service-unavailable", f"{', '.join(page.unavailable)} did not answer")
        for entry in page.items:
            yield entry
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The matching entries, oldest first: CSV with a header row, or one JSON object a line",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        503: PROBLEM,
    },
)
async def export_audit(
    _operator: Operator,
    gw: GatewayDep,
    f: FiltersDep,
    format: Annotated[Literal["csv", "jsonl"], Query(description="`csv` or `jsonl` (JSON lines)")] = "jsonl",
) -> StreamingResponse:
    """Every entry the filters of `GET /v1/admin/audit` match, across all processes,
    streamed in one file (the columns of an entry, in the order of `GET /v1/admin/audit`).
    If a process does not answer before the first entry is sent, 503."""
    entries = _entries(gw, f)
    try:
        first = await anext(entries)
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        if format == "csv":
            yield _csv_line(list(EXPORT_COLUMNS)).encode()
        if first is None:
            return
        rest: list[audit.AuditEntry] = [first]
        while rest:
            for entry in rest:
                row = entry.model_dump(mode="json")
                if format == "csv":
                    yield _csv_line([_csv_value(getattr(entry, c)) for c in EXPORT_COLUMNS]).encode()
                else:
                    yield orjson.dumps(row) + b"\n"
            rest = [e async for e in _take(entries, EXPORT_PAGE)]

    name = f"sandbank-audit.{format}"
    return StreamingResponse(
        body(), media_type=EXPORT_TYPES[format], headers={"content-disposition": f'attachment; filename="{name}"'}
    )


async def _take(entries: AsyncIterator[audit.AuditEntry], n: int) -> AsyncIterator[audit.AuditEntry]:
    for _ in range(n):
        try:
            yield await anext(entries)
        except StopAsyncIteration:
            return


@router.get("/verify", response_model=AuditVerification)
async def verify_audit(_operator: Operator, gw: GatewayDep) -> AuditVerification:
    """Check every process's hash chain: per process, the rows checked and the first row
    that does not fit (changed, deleted or out of order), if any."""
    answers = await asyncio.gather(*(_call(gw, p, "/internal/audit/verify") for p in PROCESSES), return_exceptions=True)
    checks, unavailable = [], []
    for process, answer in zip(PROCESSES, answers, strict=True):
        if isinstance(answer, UpstreamResponse) and answer.status_code == 200:
            checks.append(audit.ChainCheck.model_validate(answer.json()))
        else:
            unavailable.append(process)
    return AuditVerification(
        ok=not unavailable and all(c.ok for c in checks), processes=checks, unavailable=unavailable
    )
