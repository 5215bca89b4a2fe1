"""Gateway routes for insurance: products and quotes, buying a policy (idempotent, it
moves money), claims along the SOP, and the adjusters' queue.

Every route passes through to the insurance service, which verifies the token and the
rules itself; the gateway adds the session check, the role check, validation of the
bodies against the shapes insurance serves (shared/schemas/insurance.py; forwarded as
they came) and, for the purchase, the Idempotency-Key contract (`forward_idempotently`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.api import PROBLEM, Customer, UpstreamsDep
from gateway.idempotency import forward_idempotently
from gateway.sessions import Authenticated
from shared.auth import ROLE_ADJUSTER, Principal
from shared.problems import Problem
from shared.schemas.insurance import (
    ClaimCreate,
    ClaimPage,
    ClaimPublic,
    DecisionCreate,
    DocumentCreate,
    InsuranceQuoteCreate,
    InsuranceQuotePublic,
    PolicyCreate,
    PolicyPage,
    PolicyPublic,
    ProductList,
    ProductPublic,
)

SERVICE = "insurance"


async def adjuster(principal: Authenticated) -> Principal:
    if not principal.has(ROLE_ADJUSTER):
        raise Problem(403, "forbidden", "this operation needs the adjuster role")
    return principal


Adjuster = Annotated[Principal, Depends(adjuster)]

router = APIRouter(prefix="/v1", responses={401: PROBLEM, 404: PROBLEM, 422: PROBLEM})


@router.get("/insurance/products", response_model=ProductList, tags=["insurance"])
async def list_products(request: Request, upstreams: UpstreamsDep) -> Response:
    """The products on sale with their premium rules, waiting periods, exclusions and the
    documents each kind of claim needs. No login needed."""
    return await upstreams.forward(SERVICE, request, "/v1/insurance/products", token="")


@router.get("/insurance/products/{code}", response_model=ProductPublic, tags=["insurance"])
async def get_product(code: str, request: Request, upstreams: UpstreamsDep) -> Response:
    """One product."""
    return await upstreams.forward(SERVICE, request, f"/v1/insurance/products/{code}", token="")


@router.post("/insurance/quotes", status_code=201, response_model=InsuranceQuotePublic, tags=["insurance"])
async def create_quote(
    _body: InsuranceQuoteCreate, request: Request, principal: Customer, upstreams: UpstreamsDep
) -> Response:
    """Price a policy: `{product_code, age, term_days, sum_insured}`. The quote can be
    bought for 15 minutes. Unknown product: 404; age, term or sum insured not offered: 422."""
    return await upstreams.forward(SERVICE, request, "/v1/insurance/quotes", token=principal.token)


@router.get("/insurance/quotes/{quote_id}", response_model=InsuranceQuotePublic, tags=["insurance"])
async def get_quote(quote_id: str, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """One of your quotes."""
    return await upstreams.forward(SERVICE, request, f"/v1/insurance/quotes/{quote_id}", token=principal.token)


@router.post(
    "/insurance/policies",
    status_code=202,
    response_model=PolicyPublic,
    tags=["insurance"],
    responses={400: PROBLEM, 409: PROBLEM},
)
async def buy_policy(_body: PolicyCreate, request: Request, principal: Customer) -> Response:
    """Buy a quoted policy: `{quote_id, account_id}` with an `Idempotency-Key` header.
    Answers 202 with a pending policy; it becomes active once the premium is captured
    from the account, or fails with the reason (and nothing is taken)."""
    return await forward_idempotently(
        request, principal.subject, SERVICE, "/v1/insurance/policies", token=principal.token
    )


@router.get("/insurance/policies", response_model=PolicyPage, tags=["insurance"])
async def list_policies(request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Your policies, newest first (`?status=`, `?limit=`, `?cursor=`)."""
    return await upstreams.forward(SERVICE, request, "/v1/insurance/policies", token=principal.token)


@router.get("/insurance/policies/{policy_id}", response_model=PolicyPublic, tags=["insurance"])
async def get_policy(policy_id: str, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """One of your policies, with its premium payment and its history."""
    return await upstreams.forward(SERVICE, request, f"/v1/insurance/policies/{policy_id}", token=principal.token)


@router.post(
    "/insurance/claims", status_code=201, response_model=ClaimPublic, tags=["insurance"], responses={409: PROBLEM}
)
async def report_claim(_body: ClaimCreate, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Report a claim on one of your active policies:
    `{policy_id, kind, incident_date, amount, description?, cause?, payout_account_id?}`."""
    return await upstreams.forward(SERVICE, request, "/v1/insurance/claims", token=principal.token)


@router.get("/insurance/claims", response_model=ClaimPage, tags=["insurance"])
async def list_claims(request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Your claims, newest first (`?status=`, `?policy_id=`, `?limit=`, `?cursor=`)."""
    return await upstreams.forward(SERVICE, request, "/v1/insurance/claims", token=principal.token)


@router.get("/insurance/claims/{claim_id}", response_model=ClaimPublic, tags=["insurance"])
async def get_claim(claim_id: str, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """One of your claims with its documents, decisions, payout and full history."""
    return await upstreams.forward(SERVICE, request, f"/v1/insurance/claims/{claim_id}", token=principal.token)


@router.post(
    "/insurance/claims/{claim_id}/documents",
    status_code=201,
    response_model=ClaimPublic,
    tags=["insurance"],
    responses={409: PROBLEM},
)
async def add_document(
    claim_id: str, _body: DocumentCreate, request: Request, principal: Customer, upstreams: UpstreamsDep
) -> Response:
    """Add a document's metadata to a claim: `{kind, name, size_bytes, checksum}`."""
    return await upstreams.forward(
        SERVICE, request, f"/v1/insurance/claims/{claim_id}/documents", token=principal.token
    )


@router.post(
    "/insurance/claims/{claim_id}/submit", response_model=ClaimPublic, tags=["insurance"], responses={409: PROBLEM}
)
async def submit_claim(claim_id: str, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Submit a claim for assessment: approved (and paid), rejected, or sent to adjusters."""
    return await upstreams.forward(SERVICE, request, f"/v1/insurance/claims/{claim_id}/submit", token=principal.token)


@router.get("/adjuster/claims", response_model=ClaimPage, tags=["adjuster"], responses={403: PROBLEM})
async def adjuster_claims(request: Request, principal: Adjuster, upstreams: UpstreamsDep) -> Response:
    """Claims by status for adjusters (`?status=under_assessment`, `?awaiting_adjuster=true`)."""
    return await upstreams.forward(SERVICE, request, "/v1/adjuster/claims", token=principal.token)


@router.get("/adjuster/claims/{claim_id}", response_model=ClaimPublic, tags=["adjuster"], responses={403: PROBLEM})
async def adjuster_claim(claim_id: str, request: Request, principal: Adjuster, upstreams: UpstreamsDep) -> Response:
    """One claim with its full history, for adjusters."""
    return await upstreams.forward(SERVICE, request, f"/v1/adjuster/claims/{claim_id}", token=principal.token)


@router.post(
    "/adjuster/claims/{claim_id}/decision",
    response_model=ClaimPublic,
    tags=["adjuster"],
    responses={403: PROBLEM, 409: PROBLEM},
)
async def decide(
    claim_id: str, _body: DecisionCreate, request: Request, principal: Adjuster, upstreams: UpstreamsDep
) -> Response:
    """Approve or reject a claim waiting for an adjuster: `{decision: approve|reject, reason}`.
    Above the four-eyes threshold two different adjusters must approve."""
    return await upstreams.forward(SERVICE, request, f"/v1/adjuster/claims/{claim_id}/decision", token=principal.token)
