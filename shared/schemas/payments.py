"""Public bodies of the payments API; the gateway serves the same shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.money import AmountIn
from shared.schemas import OneLine, Whole

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
    note: OneLine = Field(default="", max_length=140)


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
    bill_reference: OneLine = Field(min_length=1, max_length=40)
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
    "direction": "outgoing",
    "payer_account_id": PAYER,
    "payer_label": "*i",
    "payee": {"kind": "account", "label": "********g", "account_id": None, "reference": "+8613800000002"},
    "note": "dinner",
    "reason": None,
    "detail": None,
    "created_at": "2025-06-02T09:30:00Z",
    "updated_at": "2025-06-02T09:30:01Z",
    "completed_at": "2025-06-02T09:30:01Z",
    "links": {"self": "/v1/payments/e3b9c2d4-6f1a-4c8e-9b27-0d5f4a6c1e88"},
}


PaymentDirection = Literal["outgoing", "incoming"]
DIRECTION_QUERY_DOC = "Only the payments you made (`outgoing`) or received (`incoming`); both without it"
# The list's filters (`GET /v1/payments?kind=&status=`): what `PaymentPublic` shows.
PaymentKindName = Literal["transfer", "bill", "qr", "topup"]
PaymentStatusName = Literal["pending", "completed", "failed"]


class PaymentPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_EXAMPLE]})

    id: str
    kind: Literal["transfer", "bill", "qr", "topup"]
    status: Literal["pending", "completed", "failed"]
    stage: str = Field(
        description="paying (held and captured in one command), reserving_funds, capturing, releasing, "
        "completed or failed"
    )
    amount: str
    amount_minor: int
    currency: str
    direction: PaymentDirection = Field(
        description="`outgoing`: you paid it; `incoming`: it paid you (a transfer into your account, "
        "shown once it has completed)"
    )
    payer_account_id: str | None = Field(description="Your account it was paid from; null on an incoming payment")
    payer_label: str = Field(
        default="", description="Who paid, by their masked name (empty on payments made before it was kept)"
    )
    payee: Payee
    note: str = Field(default="", description="The payer's note to the payee: both see it")
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
    "by_stage": {"completed": 118, "failed": 3, "paying": 1},
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


# --- scheduled transfers and standing orders ------------------------------------------------

RepeatName = Literal["none", "daily", "weekly", "monthly"]


class ScheduleCreate(BaseModel):
    """A transfer to run on a later bank day (Beijing time, on the sandbox clock), once
    (`repeat: none`) or as a standing order until `end_on` (the last day it may run) or
    for `count` runs."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payer_account_id": PAYER,
                    "payee_account_id": "5a0e1d3c-0000-4000-8000-000000000201",
                    "amount": "500.00",
                    "note": "rent",
                    "first_run_on": "2026-12-01",
                    "repeat": "monthly",
                    "count": 12,
                }
            ]
        },
    )
    payer_account_id: AccountId
    payee_account_id: AccountId | None = None
    payee_phone: str | None = Field(default=None, max_length=30)
    amount: AmountIn
    currency: str = Field(default="CNY", max_length=3)
    note: OneLine = Field(default="", max_length=140)
    first_run_on: date
    repeat: RepeatName = "none"
    end_on: date | None = None
    count: Whole | None = Field(default=None, ge=1, le=1000)


class ScheduleRunPublic(BaseModel):
    """One run: the payment it started (with that payment's status), or `failed` with the
    reason when no payment could be started."""

    run_on: date
    status: Literal["pending", "completed", "failed"]
    payment_id: str | None
    reason: str | None
    detail: str | None


SCHEDULE_EXAMPLE: dict[str, Any] = {
    "id": "3f1c2b4a-5d6e-4f70-8a91-b2c3d4e5f601",
    "status": "active",
    "payer_account_id": PAYER,
    "payee": {
        "kind": "account",
        "label": "Li *",
        "account_id": "5a0e1d3c-0000-4000-8000-000000000201",
        "reference": "",
    },
    "amount": "500.00",
    "amount_minor": 50000,
    "currency": "CNY",
    "note": "rent",
    "repeat": "monthly",
    "first_run_on": "2026-11-30",
    "end_on": None,
    "count": 12,
    "runs_made": 1,
    "next_run_on": "2026-12-30",
    "created_at": "2026-11-29T09:00:00+00:00",
    "cancelled_at": None,
    "runs": [
        {
            "run_on": "2026-11-30",
            "status": "completed",
            "payment_id": "9b2d7c1e-3a4f-4e5d-8c6b-7a8f9e0d1c2b",
            "reason": None,
            "detail": None,
        }
    ],
    "links": {"self": "/v1/payments/schedules/3f1c2b4a-5d6e-4f70-8a91-b2c3d4e5f601"},
}


class SchedulePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SCHEDULE_EXAMPLE]})

    id: str
    status: Literal["active", "finished", "cancelled"]
    payer_account_id: str
    payee: Payee
    amount: str
    amount_minor: int
    currency: str
    note: str
    repeat: RepeatName
    first_run_on: date
    end_on: date | None
    count: int | None
    runs_made: int
    next_run_on: date | None
    created_at: datetime
    cancelled_at: datetime | None
    runs: list[ScheduleRunPublic] = Field(default_factory=list, description="Newest first (up to 100)")
    links: dict[str, str]


class SchedulePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SCHEDULE_EXAMPLE], "next_cursor": None}]})

    items: list[SchedulePublic]
    next_cursor: str | None


# --- payee confirmation, saved payees, receipts and the day's limits ---------------------------

PAYEE_ACCOUNT = "5a0e1d3c-0000-4000-8000-000000000201"
PAYEE_LOOKUP_EXAMPLES: list[dict[str, Any]] = [
    {"kind": "phone", "name": "**明", "phone": "+8613800000002", "account_id": None, "paid_before": True},
    {"kind": "account", "name": "**华", "phone": None, "account_id": PAYEE_ACCOUNT, "paid_before": False},
]


class PayeeLookup(BaseModel):
    """Who a transfer would pay, for the app to confirm before the customer sends money."""

    model_config = ConfigDict(json_schema_extra={"examples": list(PAYEE_LOOKUP_EXAMPLES)})

    kind: Literal["account", "phone"] = Field(description="What was looked up")
    name: str = Field(description="The holder's name, masked: all but the last character hidden")
    phone: str | None = Field(default=None, description="For a phone look-up: the number, normalised (+86...)")
    account_id: str | None = Field(
        default=None, description="For an account look-up: the account asked about; never for a phone look-up"
    )
    paid_before: bool = Field(description="Whether you have completed a payment to this payee before")


SAVED_PAYEE_ID = "3f7c9a1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"


class SavedPayeeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"nickname": "Mum", "phone": "+8613800000002"},
                {"nickname": "Landlord", "account_id": PAYEE_ACCOUNT},
            ]
        },
    )
    nickname: OneLine = Field(min_length=1, max_length=40)
    account_id: AccountId | None = None
    phone: str | None = Field(default=None, max_length=30)


SAVED_PAYEE_EXAMPLE: dict[str, Any] = {
    "id": SAVED_PAYEE_ID,
    "nickname": "Mum",
    "kind": "phone",
    "name": "**明",
    "phone": "+8613800000002",
    "account_id": None,
    "created_at": "2025-06-02T09:30:00Z",
    "links": {"self": f"/v1/payees/{SAVED_PAYEE_ID}"},
}


class SavedPayeePublic(BaseModel):
    """A payee in the customer's address book; a phone payee never shows the account behind the number."""

    model_config = ConfigDict(json_schema_extra={"examples": [SAVED_PAYEE_EXAMPLE]})

    id: str
    nickname: str
    kind: Literal["account", "phone"]
    name: str = Field(description="The holder's masked name, as it was when saved")
    phone: str | None = None
    account_id: str | None = None
    created_at: datetime
    links: dict[str, str]


class SavedPayeePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SAVED_PAYEE_EXAMPLE], "next_cursor": None}]})

    items: list[SavedPayeePublic]
    next_cursor: str | None


class ReceiptParty(BaseModel):
    name: str = Field(description="Masked: all but the last character hidden")
    account: str | None = Field(default=None, description="The account, masked to its last four characters")


RECEIPT_EXAMPLE: dict[str, Any] = {
    "payment_id": "e3b9c2d4-6f1a-4c8e-9b27-0d5f4a6c1e88",
    "kind": "transfer",
    "status": "completed",
    "direction": "outgoing",
    "amount": "88.00",
    "amount_minor": 8800,
    "currency": "CNY",
    "payer": {"name": "***r", "account": "****0101"},
    "payee": {"name": "**明", "account": None},
    "reference": "+8613800000002",
    "note": "dinner",
    "entry_id": "9d1c7e2a-4b3f-4a5e-8c6d-7e8f9a0b1c2d",
    "requested_at": "2025-06-02T09:30:00Z",
    "completed_at": "2025-06-02T09:30:01Z",
    "links": {
        "self": "/v1/payments/e3b9c2d4-6f1a-4c8e-9b27-0d5f4a6c1e88/receipt",
        "payment": "/v1/payments/e3b9c2d4-6f1a-4c8e-9b27-0d5f4a6c1e88",
    },
}


class PaymentReceipt(BaseModel):
    """A completed payment's confirmation, safe to share: names and accounts masked."""

    model_config = ConfigDict(json_schema_extra={"examples": [RECEIPT_EXAMPLE]})

    payment_id: str
    kind: Literal["transfer", "bill", "qr", "topup"]
    status: Literal["completed"]
    direction: Literal["outgoing", "incoming"] = Field(
        default="outgoing",
        description="`outgoing`: the payer's receipt; `incoming`: the payee's, which shows no payer account",
    )
    amount: str
    amount_minor: int
    currency: str
    payer: ReceiptParty
    payee: ReceiptParty
    reference: str = Field(default="", description="The bill or QR reference, or the phone number paid or topped up")
    note: str = ""
    entry_id: str = Field(description="The ledger entry that moved the money")
    requested_at: datetime
    completed_at: datetime
    links: dict[str, str]


LIMITS_EXAMPLE: dict[str, Any] = {
    "kyc_class": "II",
    "currency": "CNY",
    "day": "2025-06-02",
    "per_payment": "10000.00",
    "per_payment_minor": 1000000,
    "daily": "10000.00",
    "daily_minor": 1000000,
    "used_today": "1288.00",
    "used_today_minor": 128800,
    "remaining_today": "8712.00",
    "remaining_today_minor": 871200,
    "payable_now": "8712.00",
    "payable_now_minor": 871200,
    "resets_at": "2025-06-02T16:00:00Z",
    "new_device": None,
}


class NewDeviceLimitsPublic(BaseModel):
    """The lower limits of a session on a device bound less than a day ago (trusted
    devices, docs/compliance.md): they apply on top of the class's until `until`, to the
    same payments (moves between the customer's own accounts count toward neither)."""

    until: datetime = Field(description="When this session's device stops being new (sandbox clock)")
    per_payment: str = Field(description="The most one payment to someone else from this device may be")
    per_payment_minor: int
    daily: str = Field(description="The most the customer's payments to others today may add up to while it is new")
    daily_minor: int
    used_today: str = Field(
        description="The customer's payments to others today from any device, failed ones and moves between "
        "their own accounts aside"
    )
    used_today_minor: int
    remaining_today: str
    remaining_today_minor: int


class PaymentLimits(BaseModel):
    """The customer's KYC class's limits and what today has used of them. None: no limit.
    A session on a new device also sees its lower limits in `new_device`."""

    model_config = ConfigDict(json_schema_extra={"examples": [LIMITS_EXAMPLE]})

    kyc_class: str
    currency: str
    day: date = Field(description="The bank day (Beijing time) the figures are for")
    per_payment: str | None
    per_payment_minor: int | None
    daily: str | None
    daily_minor: int | None
    used_today: str = Field(description="Paid out today, plus payments still holding funds")
    used_today_minor: int
    remaining_today: str | None
    remaining_today_minor: int | None
    payable_now: str | None = Field(
        description="The largest single payment the limits allow now, a new device's included"
    )
    payable_now_minor: int | None
    resets_at: datetime = Field(description="When the daily limit starts again: midnight, Beijing time")
    new_device: NewDeviceLimitsPublic | None = Field(
        default=None, description="A session on a new device: its lower limits and until when; null on a trusted one"
    )
