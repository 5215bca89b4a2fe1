"""Public bodies of the payments API; the gateway serves the same shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

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
    label: str
    account_id: str | None = Field(default=None, description="Set for transfers")
    reference: str = ""


class PaymentPublic(BaseModel):
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


class PaymentPage(BaseModel):
    items: list[PaymentPublic]
    next_cursor: str | None


class BillerPublic(BaseModel):
    code: str
    name: str
    category: str
    reference_hint: str


class BillerList(BaseModel):
    items: list[BillerPublic]


class MerchantPublic(BaseModel):
    id: str
    name: str
    city: str
    qr_example: str


class MerchantList(BaseModel):
    items: list[MerchantPublic]


class PaymentsSummary(BaseModel):
    by_stage: dict[str, int]
    non_terminal: int
    oldest_non_terminal_s: float | None
