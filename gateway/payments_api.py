"""Gateway routes for payments: money-moving POSTs under an Idempotency-Key (and, above
the step-up amounts, a one-time code: gateway/stepup.py), queries passed through."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from gateway import stepup
from gateway.api import PROBLEM, Customer, Operator, UpstreamsDep
from gateway.idempotency import forward_idempotently
from shared.money import InvalidAmount, to_minor
from shared.phone import normalise_phone
from shared.problems import PROBLEM_JSON
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
    "running gets 409. Answers 202: the payment runs as a saga; follow `links.self`.\n\n"
    "**Step-up**: above 5,000.00 CNY (`AUTH_STEPUP_AMOUNT_MINOR`), or for a transfer above "
    "1,000.00 CNY (`AUTH_STEPUP_NEW_PAYEE_MINOR`) to a payee you have never paid, the answer is "
    "401 `step-up-required` with a `challenge_id`; the six-digit code arrives as a notification. "
    "Approve it with `POST /v1/auth/challenges/{challenge_id}` and send this request again with "
    "the same Idempotency-Key."
)
MONEY_MOVING = {
    401: {
        "description": "Not logged in, or `step-up-required` (see above)",
        "content": {
            PROBLEM_JSON: {
                "example": {
                    "type": "https://sandbank.dev/problems/step-up-required",
                    "title": "Step-up authentication required",
                    "status": 401,
                    "detail": "a payment above 5000.00 CNY needs a one-time code: it was sent to your notifications",
                    "challenge_id": "0b6f3f0e-8d0c-4a59-9a57-3c1e4f0f1c11",
                    "reason": "amount",
                    "expires_at": "2026-11-25T14:05:00+00:00",
                    "links": {
                        "approve": "/v1/auth/challenges/0b6f3f0e-8d0c-4a59-9a57-3c1e4f0f1c11",
                        "notifications": "/v1/notifications",
                    },
                }
            }
        },
    }
}


def _amount(value: object, currency: str) -> int | None:
    """The amount in fen, or None when it is not valid (payments then says why, with a 422)."""
    try:
        return to_minor(value, currency)
    except InvalidAmount:
        return None


async def _post(request: Request, principal: Customer, path: str, payment: stepup.Payment | None) -> Response:
    if payment is not None:
        await stepup.require(request, principal, payment)
    return await forward_idempotently(request, principal.subject, "payments", path, token=principal.token)


@router.post(
    "/payments/transfers", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT, responses=MONEY_MOVING
)
async def create_transfer(body: TransferCreate, request: Request, principal: Customer) -> Response:
    """Send money to another customer by account id or phone number."""
    amount = _amount(body.amount, body.currency)
    if body.payee_account_id:
        payee = f"account:{body.payee_account_id}"
    else:
        try:
            payee = f"phone:{normalise_phone(body.payee_phone or '')}"
        except ValueError:
            payee = f"phone:{body.payee_phone}"
    payment = stepup.Payment("transfer", payee, amount, body.currency) if amount is not None else None
    return await _post(request, principal, "/v1/payments/transfers", payment)


@router.post(
    "/payments/bills", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT, responses=MONEY_MOVING
)
async def create_bill_payment(body: BillCreate, request: Request, principal: Customer) -> Response:
    """Pay a utility bill to a seeded biller."""
    amount = _amount(body.amount, body.currency)
    payee = f"biller:{body.biller_code}:{body.bill_reference}"
    payment = stepup.Payment("bill", payee, amount, body.currency) if amount is not None else None
    return await _post(request, principal, "/v1/payments/bills", payment)


@router.post(
    "/payments/qr", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT, responses=MONEY_MOVING
)
async def create_qr_payment(body: QrCreate, request: Request, principal: Customer) -> Response:
    """Pay a merchant from a scanned QR payload."""
    printed = parse_qs(urlsplit(body.qr_payload).query).get("a", [None])[0]
    amount = _amount(body.amount if body.amount is not None else printed, body.currency)
    payment = stepup.Payment("qr", f"qr:{body.qr_payload}", amount, body.currency) if amount is not None else None
    return await _post(request, principal, "/v1/payments/qr", payment)


@router.post(
    "/payments/topups", status_code=202, response_model=PaymentPublic, description=IDEMPOTENT, responses=MONEY_MOVING
)
async def create_topup(body: TopupCreate, request: Request, principal: Customer) -> Response:
    """Top up a mobile phone."""
    amount = _amount(body.amount, body.currency)
    payment = stepup.Payment("topup", f"mobile:{body.phone}", amount, body.currency) if amount is not None else None
    return await _post(request, principal, "/v1/payments/topups", payment)


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
