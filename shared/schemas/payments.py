"""Public bodies of the payments API; the gateway serves the same shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.money import AmountIn

AccountId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:._-]{1,64}$")]

PAYER = "5a0e1d3c-0000-4000-8000-000000000101"


class TransferCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"payer_account_id": PAYER, "payee_phone": "+8613800000002", "amount": "88.00", "note": "dinner"},
                {
                    "payer_account_id": PAYER,
                    "payee_account_id": "5a0e1d3c-0000-4000-8000-000000000201",
                    "amount": "1200.00",
                },
            ]
        },
    )
    payer_account_id: AccountId
    payee_account_id: AccountId | None = None
    payee_phone: str | None = Field(default=None, max_length=30)
    amount: AmountIn
    currency: str = Field(default="CNY", max_length=3)
    note: str = Field(default="", max_length=140)


class BillCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payer_account_id": PAYER,
                    "biller_code": "SH-WATER",
                    "bill_reference": "3100012345",
                    "amount": "56.40",
                }
            ]
        },
    )
    payer_account_id: AccountId
    biller_code: str = Field(max_length=40)
    bill_reference: str = Field(min_length=1, max_length=40)
    amount: AmountIn
    currency: str = Field(default="CNY", max_length=3)


class QrCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"payer_account_id": PAYER, "qr_payload": "sandbank://qr/v1?m=M100001&a=32.00&r=T42"}]
        },
    )
    payer_account_id: AccountId
    qr_payload: str = Field(min_length=1, max_length=512)
    amount: AmountIn | None = Field(default=None, description="Required when the QR code carries no amount")
    currency: str = Field(default="CNY", max_length=3)


class TopupCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"payer_account_id": PAYER, "phone": "+8613912345678", "amount": "50.00"}]},
    )
    payer_account_id: AccountId
    phone: str = Field(max_length=30)
    amount: AmountIn
    currency: str = Field(default="CNY", max_length=3)


class Payee(BaseModel):
    kind: Literal["account", "biller", "merchant", "mobile"]
    label: str = Field(description="Who is paid; a customer by their masked name")
    account_id: str | None = Field(
        default=None, description="For transfers to an account named by its id; never for one to a phone number"
    )
    reference: str = Field(
        default="", description="The bill reference, the QR code's reference, or the phone number paid or topped up"
    )


PAYMENT_EXAMPLE: dict[str, Any] = {
    "id": "e3b9c2d4-6f1a-4c8e-9b27-0d5f4a6c1e88",
    "kind": "transfer",
    "status": "completed",
    "stage": "completed",
    "amount": "88.00",
    "amount_minor": 8800,
    "currency": "CNY",
    "payer_account_id": PAYER,
    "payee": {"kind": "account", "label": "********g", "account_id": None, "reference": "+8613800000002"},
    "note": "dinner",
    "reason": None,
    "detail": None,
    "created_at": "2025-06-02T09:30:00Z",
    "updated_at": "2025-06-02T09:30:01Z",
    "completed_at": "2025-06-02T09:30:01Z",
    "links": {"self": "/v1/payments/e3b9c2d4-6f1a-4c8e-9b27-0d5f4a6c1e88"},
}


# The list's filters (`GET /v1/payments?kind=&status=`): what `PaymentPublic` shows.
PaymentKindName = Literal["transfer", "bill", "qr", "topup"]
PaymentStatusName = Literal["pending", "completed", "failed"]


class PaymentPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_EXAMPLE]})

    id: str
    kind: Literal["transfer", "bill", "qr", "topup"]
    status: Literal["pending", "completed", "failed"]
    stage: str = Field(description="reserving_funds, capturing, releasing, completed or failed")
    amount: str
    amount_minor: int
    currency: str
    payer_account_id: str
    payee: Payee
    note: str = ""
    reason: str | None = Field(default=None, examples=["insufficient_funds"])
    detail: str | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    links: dict[str, str]


PAYMENT_PAGE_EXAMPLE: dict[str, Any] = {"items": [PAYMENT_EXAMPLE], "next_cursor": None}


class PaymentPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_PAGE_EXAMPLE]})

    items: list[PaymentPublic]
    next_cursor: str | None


BILLER_EXAMPLE: dict[str, Any] = {
    "code": "SH-WATER",
    "name": "Shanghai Water",
    "category": "water",
    "reference_hint": "10 digits",
}


class BillerPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BILLER_EXAMPLE]})

    code: str
    name: str
    category: str
    reference_hint: str


BILLER_LIST_EXAMPLE: dict[str, Any] = {"items": [BILLER_EXAMPLE]}


class BillerList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BILLER_LIST_EXAMPLE]})

    items: list[BillerPublic]


MERCHANT_EXAMPLE: dict[str, Any] = {
    "id": "M100001",
    "name": "Lanzhou Noodle House",
    "city": "Shanghai",
    "qr_example": "sandbank://qr/v1?m=M100001&a=12.50",
}


class MerchantPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MERCHANT_EXAMPLE]})

    id: str
    name: str
    city: str
    qr_example: str


MERCHANT_LIST_EXAMPLE: dict[str, Any] = {"items": [MERCHANT_EXAMPLE]}


class MerchantList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MERCHANT_LIST_EXAMPLE]})

    items: list[MerchantPublic]


PAYMENTS_SUMMARY_EXAMPLE: dict[str, Any] = {
    "by_stage": {"completed": 118, "failed": 3, "capturing": 1},
    "non_terminal": 1,
    "oldest_non_terminal_s": 2.4,
}


class PaymentsSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENTS_SUMMARY_EXAMPLE]})

    by_stage: dict[str, int]
    non_terminal: int
    oldest_non_terminal_s: float | None


class DepositCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"account_id": "5a0e1d3c-0000-4000-8000-000000000101", "amount": "100.00", "currency": "CNY"}]
        },
    )
    account_id: str = Field(min_length=1, max_length=64)
    amount: AmountIn
    currency: str = Field(default="CNY", max_length=3)


DEPOSIT_EXAMPLE: dict[str, Any] = {
    "id": "7c1e5a92-3b4d-4f6e-8a0c-9d2b1f3e5a74",
    "account_id": "5a0e1d3c-0000-4000-8000-000000000101",
    "amount": "100.00",
    "amount_minor": 10000,
    "currency": "CNY",
    "status": "pending",
    "reason": None,
    "detail": None,
    "created_at": "2025-06-02T09:30:00Z",
    "links": {
        "self": "/v1/sandbox/deposits/7c1e5a92-3b4d-4f6e-8a0c-9d2b1f3e5a74",
        "account": "/v1/accounts/5a0e1d3c-0000-4000-8000-000000000101",
    },
}


class DepositPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEPOSIT_EXAMPLE]})

    id: str
    account_id: str
    amount: str
    amount_minor: int
    currency: str
    status: Literal["pending", "completed", "failed"]
    reason: str | None = None
    detail: str | None = None
    created_at: datetime
    links: dict[str, str]


class PayeeKnown(BaseModel):
    """Whether a customer has completed a payment to a payee (internal)."""

    known: bool
