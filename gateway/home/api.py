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
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError

from gateway.deps import Customer, GatewayDep, SessionsDep
from gateway.home.schemas import (
    RECENT,
    ClaimSummary,
    HomeCustomer,
    HomePublic,
    PolicySummary,
    PortfolioSummary,
    Service,
)
from gateway.notifications import store as notifications
from gateway.routing.upstream import UpstreamResponse, Upstreams
from shared.aio import within
from shared.auth import Principal
from shared.errors import ServiceUnavailable
from shared.money import format_minor
from shared.problems import PROBLEM
from shared.schemas.accounts import AccountPublic
from shared.schemas.payments import PaymentPublic

log = logging.getLogger(__name__)

OPEN_CLAIM_STATUSES = ("reported", "documents_submitted", "under_assessment", "approved")


router = APIRouter(prefix="/v1", tags=["home"], responses={401: PROBLEM})


async def _ask(
    upstreams: Upstreams,
    service: str,
    path: str,
    caller: Principal,
    timeout_s: float,
    params: dict[str, Any] | None = None,
) -> Any:
    """The JSON body of a 200, or None for anything else (logged, never raised)."""
    try:
        answer: UpstreamResponse = await within(
            upstreams.call(service, "GET", path, caller=caller, params=params), timeout_s
        )
    except (ServiceUnavailable, TimeoutError) as exc:
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
async def home(principal: Customer, gw: GatewayDep, sessions: SessionsDep) -> HomePublic:
    """Everything the home screen shows, in one call: accounts with balances, the
    portfolio's value, active policies, open claims, the last payments made and received, and the unread
    notification count. The services are asked in parallel; one that does not answer
    within 1.5 s (or errs) leaves its parts null and is listed in `missing`: still a 200."""
    timeout = gw.settings.gateway.home_timeout_s
    # Not `UpstreamsDep`: a service that does not answer is never this route's 503.
    upstreams = gw.upstreams

    async def unread() -> int:
        async with gw.runtime.db.read() as session:
            return await notifications.unread_count(session, principal.subject)

    (accounts, positions, policies, claims, payments, unread_count, user) = await asyncio.gather(
        _ask(upstreams, "accounts", "/v1/accounts", principal, timeout),
        _ask(upstreams, "securities", "/v1/securities/positions", principal, timeout),
        _ask(upstreams, "insurance", "/v1/insurance/policies", principal, timeout, {"status": "active", "limit": 50}),
        _ask(upstreams, "insurance", "/v1/insurance/claims", principal, timeout, {"limit": 50}),
        _ask(upstreams, "payments", "/v1/payments", principal, timeout, {"limit": RECENT}),
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
