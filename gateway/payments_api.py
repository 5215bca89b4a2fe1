"""Gateway routes for payments: money-moving POSTs under an Idempotency-Key, queries passed through."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from gateway.api import PROBLEM, Customer, Operator, UpstreamsDep
from gateway.idempotency import forward_idempotently
from shared.schemas.payments import (
    BillCreate,
    BillerList,
    MerchantList,
    PaymentPage,
    PaymentPublic,
    PaymentsSummary,
    QrCreate,
    TopupCreate,
    TransferCreate,
)

router = APIRouter(
    prefix="/v1", tags=["payments"], responses={400: PROBLEM, 401: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM}
)

IDEMPOTENT = (
    "Requires an `Idempotency-Key` header: the same key and body replay the first answer, "
    "the same key with another body is refused (422), and a repeat while the first is still "
    "running gets 409. Answers 202: the payment runs as a saga; follow `links.self`."
)


async def _post(request: Request, principal: Customer, path: str) -> Response:
    return await forward_idempotently(request, principal.subject, "payments", path, token=principal.token)


@router.post("/payments/transfers", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT)
async def create_transfer(_body: TransferCreate, request: Request, principal: Customer) -> Response:
    """Send money to another customer by account id or phone number."""
    return await _post(request, principal, "/v1/payments/transfers")


@router.post("/payments/bills", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT)
async def create_bill_payment(_body: BillCreate, request: Request, principal: Customer) -> Response:
    """Pay a utility bill to a seeded biller."""
    return await _post(request, principal, "/v1/payments/bills")


@router.post("/payments/qr", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT)
async def create_qr_payment(_body: QrCreate, request: Request, principal: Customer) -> Response:
    """Pay a merchant from a scanned QR payload."""
    return await _post(request, principal, "/v1/payments/qr")


@router.post("/payments/topups", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT)
async def create_topup(_body: TopupCreate, request: Request, principal: Customer) -> Response:
    """Top up a mobile phone."""
    return await _post(request, principal, "/v1/payments/topups")


@router.get("/payments", response_model=PaymentPage)
async def list_payments(
    request: Request,
    principal: Customer,
    upstreams: UpstreamsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The customer's payments, newest first; follow `next_cursor`."""
    return await upstreams.forward("payments", request, "/v1/payments", token=principal.token)


@router.get("/payments/{payment_id}", response_model=PaymentPublic)
async def get_payment(payment_id: str, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """One payment: `status` is pending, completed or failed (with `reason`)."""
    return await upstreams.forward("payments", request, f"/v1/payments/{payment_id}", token=principal.token)


@router.get("/billers", response_model=BillerList)
async def list_billers(request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Billers and the shape of their bill references."""
    return await upstreams.forward("payments", request, "/v1/billers", token=principal.token)


@router.get("/merchants", response_model=MerchantList)
async def list_merchants(request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """Seeded merchants, each with an example QR payload."""
    return await upstreams.forward("payments", request, "/v1/merchants", token=principal.token)


@router.get("/admin/payments/summary", response_model=PaymentsSummary, tags=["operator"])
async def payments_summary(request: Request, principal: Operator, upstreams: UpstreamsDep) -> Response:
    """Payments by stage and the age of the oldest unfinished saga (operators)."""
    return await upstreams.forward("payments", request, "/v1/admin/payments/summary", token=principal.token)
