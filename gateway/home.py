"""The home screen in one call: the phone's first screen without six round trips.

The gateway asks accounts, securities, insurance and payments at once, each with its
own deadline (`GATEWAY_HOME_TIMEOUT_S`), and answers with what came back. A service
that is down, slow or erring leaves its part null and is named in `missing`; the
screen still renders, and the answer is never a 5xx for that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway import notifications
from gateway.api import PROBLEM, Customer, SessionsDep, UpstreamsDep
from gateway.upstream import UpstreamResponse, Upstreams
from shared.money import format_minor
from shared.problems import Problem
from shared.schemas.accounts import AccountPublic
from shared.schemas.payments import PaymentPublic

log = logging.getLogger(__name__)

Service = Literal["accounts", "securities", "insurance", "payments"]
OPEN_CLAIM_STATUSES = ("reported", "documents_submitted", "under_assessment", "approved")
RECENT = 5


class PortfolioSummary(BaseModel):
    market_value: str
    market_value_minor: int
    cost: str
    cost_minor: int
    unrealised_pnl: str
    unrealised_pnl_minor: int
    positions: int = Field(description="How many symbols are held")


class PolicySummary(BaseModel):
    id: str
    number: str
    product_code: str
    status: str
    sum_insured: str
    sum_insured_minor: int
    premium: str
    premium_minor: int
    currency: str
    starts_on: date | None
    ends_on: date | None
    covered_from: date | None


class ClaimSummary(BaseModel):
    id: str
    number: str
    policy_id: str
    kind: str
    status: str
    amount: str
    amount_minor: int
    currency: str
    awaiting_adjuster: bool
    updated_at: datetime


class HomeCustomer(BaseModel):
    id: str
    name: str


class HomePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": {"id": "9b1c7a2e-0000-4000-8000-000000000001", "name": "Li Wei"},
                    "accounts": [
                        {
                            "id": "5a0e1d3c-0000-4000-8000-000000000101",
                            "customer_id": "9b1c7a2e-0000-4000-8000-000000000001",
                            "kind": "checking",
                            "name": "Checking",
                            "currency": "CNY",
                            "balance": "50000.00",
                            "available": "50000.00",
                            "balance_minor": 5000000,
                            "available_minor": 5000000,
                            "held_minor": 0,
                            "created_at": "2026-11-25T09:00:00Z",
                        }
                    ],
                    "total_balance": "50000.00",
                    "total_balance_minor": 5000000,
                    "portfolio": None,
                    "active_policies": [],
                    "open_claims": [],
                    "recent_activity": [],
                    "unread_notifications": 2,
                    "missing": ["securities"],
                }
            ]
        }
    )
    customer: HomeCustomer
    accounts: list[AccountPublic] | None = Field(description="With ledger and available balances")
    total_balance: str | None = Field(description="The accounts' balances added up (CNY)")
    total_balance_minor: int | None
    portfolio: PortfolioSummary | None = Field(description="Market value of the securities held, at last prices")
    active_policies: list[PolicySummary] | None
    open_claims: list[ClaimSummary] | None
    recent_activity: list[PaymentPublic] | None = Field(description=f"The last {RECENT} payments")
    unread_notifications: int
    missing: list[Service] = Field(
        description="Services that did not answer in time (or erred): the parts they feed are null"
    )


router = APIRouter(prefix="/v1", tags=["home"], responses={401: PROBLEM})


async def _ask(
    upstreams: Upstreams, service: str, path: str, token: str, timeout_s: float, params: dict[str, Any] | None = None
) -> Any:
    """The JSON body of a 200, or None for anything else (logged, never raised)."""
    try:
        answer: UpstreamResponse = await asyncio.wait_for(
            upstreams.call(service, "GET", path, token=token, params=params), timeout_s
        )
    except (Problem, TimeoutError) as exc:
        log.warning("home: %s %s gave nothing: %s", service, path, getattr(exc, "detail", "timed out"))
        return None
    if answer.status_code != 200:
        log.warning("home: %s %s answered %d", service, path, answer.status_code)
        return None
    try:
        return answer.json()
    except ValueError:
        log.warning("home: %s %s answered with something other than JSON", service, path)
        return None


def _build(body: Any, make: Callable[[Any], Any]) -> Any:
    if body is None:
        return None
    try:
        return make(body)
    except (ValidationError, KeyError, TypeError, ValueError):
        log.warning("home: an answer of unexpected shape was left out", exc_info=True)
        return None


@router.get("/home", response_model=HomePublic)
async def home(request: Request, principal: Customer, upstreams: UpstreamsDep, sessions: SessionsDep) -> HomePublic:
    """Everything the home screen shows, in one call: accounts with balances, the
    portfolio's value, active policies, open claims, the last payments and the unread
    notification count. The services are asked in parallel; one that does not answer
    within 1.5 s (or errs) leaves its parts null and is listed in `missing`: still a 200."""
    timeout = request.app.state.settings.gateway.home_timeout_s
    token = principal.token

    async def unread() -> int:
        async with request.app.state.runtime.db.read() as session:
            return await notifications.unread_count(session, principal.subject)

    (accounts, positions, policies, claims, payments, unread_count, user) = await asyncio.gather(
        _ask(upstreams, "accounts", "/v1/accounts", token, timeout),
        _ask(upstreams, "securities", "/v1/securities/positions", token, timeout),
        _ask(upstreams, "insurance", "/v1/insurance/policies", token, timeout, {"status": "active", "limit": 50}),
        _ask(upstreams, "insurance", "/v1/insurance/claims", token, timeout, {"limit": 50}),
        _ask(upstreams, "payments", "/v1/payments", token, timeout, {"limit": RECENT}),
        unread(),
        sessions.user(principal.subject),
    )
    account_list = _build(accounts, lambda b: [AccountPublic.model_validate(a) for a in b["items"]])
    portfolio = _build(
        positions, lambda b: PortfolioSummary.model_validate({**b["totals"], "positions": len(b["items"])})
    )
    active = _build(policies, lambda b: [PolicySummary.model_validate(p) for p in b["items"]])
    open_claims = _build(
        claims,
        lambda b: [ClaimSummary.model_validate(c) for c in b["items"] if c["status"] in OPEN_CLAIM_STATUSES],
    )
    recent = _build(payments, lambda b: [PaymentPublic.model_validate(p) for p in b["items"]])
    missing: list[Service] = []
    if account_list is None:
        missing.append("accounts")
    if portfolio is None:
        missing.append("securities")
    if active is None or open_claims is None:
        missing.append("insurance")
        active = open_claims = None
    if recent is None:
        missing.append("payments")
    total = sum(a.balance_minor for a in account_list if a.currency == "CNY") if account_list is not None else None
    return HomePublic(
        customer=HomeCustomer(id=principal.subject, name=user.name if user else ""),
        accounts=account_list,
        total_balance=format_minor(total) if total is not None else None,
        total_balance_minor=total,
        portfolio=portfolio,
        active_policies=active,
        open_claims=open_claims,
        recent_activity=recent,
        unread_notifications=unread_count,
        missing=missing,
    )
