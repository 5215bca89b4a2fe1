"""KYC upgrades through the gateway: a customer applies for class I and sees their class,
its limits and their latest application; compliance officers work the queue. accounts
owns the applications and the class (services/accounts/kyc.py); these are its routes
under /v1, and one screen-shaped answer that adds the payments service's per-payment limit."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter

from gateway.deps import Customer, UpstreamsDep
from gateway.routing.routes import PassThrough
from shared.problems import PROBLEM
from shared.schemas.kyc import KycApplicationList, KycApplicationPublic, KycDecisionCreate, KycPublic, KycUpgradeCreate
from shared.schemas.payments import PaymentLimits

kyc = partial(PassThrough, service="accounts", tags=("kyc",))
StatusFilter: Any = Literal["pending", "approved", "refused"] | None

ROUTES = (
    kyc(
        "POST",
        "/v1/me/kyc/upgrade",
        name="apply_for_kyc_upgrade",
        body=KycUpgradeCreate,
        response=KycApplicationPublic,
        status=201,
        problems=(401, 404, 409, 422),
        doc="""Apply for KYC class I with your legal name, resident ID number and the
        sandbox face-match score. The ID number must be 18 characters with a valid GB 11643
        check character and a plausible birth date (problem `invalid-id-number` otherwise).
        A face match of 0.9 or more is approved at once, and your class and limits change
        for the very next payment; a lower one waits for a compliance officer. The sandbox
        ID number 110101199003079999 is always refused (docs/sandbox.md). A legal name other
        than your registered name is never approved at once: it waits for a compliance
        officer (`reason: legal_name_mismatch`). You are told of the decision by a
        `kyc_decided` notification. 409 if you are already class I, an application is
        waiting, or the ID number already vouches for another customer (`id-number-in-use`;
        nothing is recorded).""",
    ),
    kyc(
        "GET",
        "/v1/admin/kyc/applications",
        name="list_kyc_applications",
        who="compliance",
        response=KycApplicationList,
        tags=("kyc", "operator"),
        problems=(401, 403, 422),
        query={"status": (StatusFilter, None)},
        doc="""KYC upgrade applications, oldest first (compliance role); `status=pending`
        is the queue waiting for a decision.""",
    ),
    kyc(
        "POST",
        "/v1/admin/kyc/applications/{application_id}/decision",
        name="decide_kyc_application",
        who="compliance",
        body=KycDecisionCreate,
        response=KycApplicationPublic,
        tags=("kyc", "operator"),
        problems=(401, 403, 404, 409, 422),
        doc="""Approve or refuse a pending KYC upgrade application, with a reason
        (compliance role). An approval makes the customer class I at once; either way the
        customer is notified. 409 if the application was already decided, or if its ID
        number meanwhile vouches for another customer (`id-number-in-use`: refuse it).""",
    ),
)

router = APIRouter(prefix="/v1/me", tags=["kyc"], responses={401: PROBLEM, 404: PROBLEM})


@router.get("/kyc", response_model=KycPublic)
async def my_kyc(principal: Customer, upstreams: UpstreamsDep) -> KycPublic:
    """Your KYC class, its limits (the most one payment may be, a day's payments out, the
    most your accounts may hold; null: no limit) and your latest upgrade application."""
    kyc_answer, limits_answer = await asyncio.gather(
        upstreams.call("accounts", "GET", "/v1/me/kyc", caller=principal),
        upstreams.call("payments", "GET", "/v1/payments/limits", caller=principal),
    )
    kyc_answer.raise_for_problem()
    limits_answer.raise_for_problem()
    found = KycPublic.model_validate(kyc_answer.json())
    per_payment = PaymentLimits.model_validate(limits_answer.json()).per_payment_minor
    return found.model_copy(update={"limits": found.limits.model_copy(update={"per_payment_minor": per_payment})})
