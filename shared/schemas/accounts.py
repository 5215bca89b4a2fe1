"""Public request and response bodies of the accounts API; the gateway serves the same shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import format_minor
from shared.schemas import OneLine
from shared.schemas.statements import LineKind, ReferenceKind

KIND_FILTER_DOC = "Only lines of this kind (lines written before kinds were kept have none)"


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=36)
    phone: str = Field(min_length=5, max_length=20)
    name: OneLine = Field(min_length=1, max_length=100)
    kyc_class: Literal["I", "II", "III"] = "II"


class CustomerPublic(BaseModel):
    id: str
    phone: str
    name: str
    kyc_class: str
    created_at: datetime


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "savings", "currency": "CNY", "name": "Rainy day"}]},
    )
    kind: Literal["checking", "savings", "securities_cash"]
    currency: Literal["CNY"] = "CNY"
    name: str | None = Field(default=None, min_length=1, max_length=100)


ACCOUNT_EXAMPLE: dict[str, Any] = {
    "id": "5a0e1d3c-0000-4000-8000-000000000101",
    "customer_id": "9b1c7a2e-0000-4000-8000-000000000001",
    "kind": "checking",
    "name": "Checking",
    "currency": "CNY",
    "balance": "49912.00",
    "available": "49862.00",
    "balance_minor": 4991200,
    "available_minor": 4986200,
    "held_minor": 5000,
    "created_at": "2025-01-02T08:00:00Z",
    "freeze": None,
}


class AccountFreeze(BaseModel):
    """A freeze on the account: `full` (nothing in or out) or `outflows` (nothing out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mode": "outflows", "reason": "under review", "since": "2025-06-02T09:31:12Z"}]
        }
    )

    mode: Literal["full", "outflows"]
    reason: str = Field(description="Why, as the customer may read it")
    since: datetime


class AccountPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ACCOUNT_EXAMPLE]})

    id: str
    customer_id: str | None
    kind: str
    name: str
    currency: str
    balance: str = Field(description="Ledger balance, decimal string", examples=["1200.00"])
    available: str = Field(description="Ledger balance less active holds", examples=["1150.00"])
    balance_minor: int
    available_minor: int
    held_minor: int
    created_at: datetime
    freeze: AccountFreeze | None = Field(default=None, description="The freeze on the account, or null")

    @classmethod
    def of(cls, a) -> AccountPublic:
        available = a.balance_minor - a.held_minor
        return cls(
            id=a.id,
            customer_id=a.customer_id,
            kind=a.kind,
            name=a.name,
            currency=a.currency,
            balance=format_minor(a.balance_minor, a.currency),
            available=format_minor(available, a.currency),
            balance_minor=a.balance_minor,
            available_minor=available,
            held_minor=a.held_minor,
            created_at=a.created_at,
            freeze=(
                AccountFreeze(mode=a.freeze_mode, reason=a.freeze_reason or "", since=a.frozen_at)
                if getattr(a, "freeze_mode", None)
                else None
            ),
        )


ACCOUNT_LIST_EXAMPLE: dict[str, Any] = {"items": [ACCOUNT_EXAMPLE]}


class AccountList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ACCOUNT_LIST_EXAMPLE]})

    items: list[AccountPublic]


TRANSACTION_EXAMPLE: dict[str, Any] = {
    "id": 1042,
    "entry_id": "c41f7a90-5d2e-4b8a-9f13-6e0d2b7c8a55",
    "kind": "transfer_out",
    "direction": "debit",
    "amount": "88.00",
    "amount_minor": -8800,
    "currency": "CNY",
    "balance_after": "49912.00",
    "balance_after_minor": 4991200,
    "counterparty_account_id": None,
    "description": "Transfer to *i: dinner",
    "reference_kind": "payment",
    "reference_id": "7d3f9b12-0000-4000-8000-000000000301",
    "created_at": "2025-06-02T09:30:01Z",
}

LINE_KIND_DOC = (
    "What the line is, from this account's side: "
    + ", ".join(f"`{k.value}`" for k in LineKind)
    + ". `other`: a line from before kinds were recorded that no rule recognises."
)
REFERENCE_KIND_DOC = (
    "The business object behind the line, whose id is `reference_id`: "
    + ", ".join(f"`{k.value}`" for k in ReferenceKind)
    + ". Null when the line predates references and its text names none."
)


class TransactionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TRANSACTION_EXAMPLE]})

    id: int
    entry_id: str
    kind: LineKind = Field(description=LINE_KIND_DOC)
    direction: Literal["credit", "debit"]
    amount: str
    amount_minor: int = Field(description="Signed: positive credits the account")
    currency: str
    balance_after: str
    balance_after_minor: int
    counterparty_account_id: str | None = Field(
        description="The account on the other side: one of yours or the bank's (`internal:...`); null for "
        "another customer's, whom `description` names by their masked name"
    )
    description: str = Field(description="The line as a person reads it, e.g. `Transfer from *g: lunch`")
    reference_kind: ReferenceKind | None = Field(default=None, description=REFERENCE_KIND_DOC)
    reference_id: str | None = Field(default=None, description="The id of the payment, deposit, order ... behind it")
    created_at: datetime


TRANSACTION_PAGE_EXAMPLE: dict[str, Any] = {"items": [TRANSACTION_EXAMPLE], "next_cursor": "MTA0Mg"}


class TransactionPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TRANSACTION_PAGE_EXAMPLE]})

    items: list[TransactionPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class LedgerViolation(BaseModel):
    rule: str
    detail: str
    account_id: str | None = None


LEDGER_CHECK_EXAMPLE: dict[str, Any] = {
    "ok": True,
    "checked_at": "2025-06-02T09:35:00Z",
    "accounts_checked": 12,
    "entries_checked": 348,
    "active_holds": 1,
    "totals_minor": {"CNY": 0},
    "violations": [],
}


class LedgerCheck(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [LEDGER_CHECK_EXAMPLE]})

    ok: bool
    checked_at: str
    accounts_checked: int
    entries_checked: int
    active_holds: int
    totals_minor: dict[str, int]
    violations: list[LedgerViolation]
    # Filled in by the gateway's check, which asks each hold's owner about its saga.
    holds_with_saga_checked: int = Field(
        default=0, description="Active holds whose saga the service that reserved them was asked about"
    )
    owners_unavailable: list[str] = Field(
        default_factory=list,
        description="Services that reserved active holds but did not answer: their holds are checked by age only",
    )
    saga_grace_s: float | None = Field(
        default=None, description="Seconds past its deadline after which a hold's saga counts as stuck"
    )


ACTIVE_HOLD_EXAMPLE: dict[str, Any] = {
    "id": "5a0e1d3c-0000-4000-8000-000000000101",
    "account_id": "6222020000000001",
    "reserved_by": "payments",
    "reference": "payment transfer 5a0e1d3c-0000-4000-8000-000000000101",
    "amount_minor": 10000,
    "currency": "CNY",
    "created_at": "2025-06-02T09:31:00Z",
    "expires_at": None,
}


class ActiveHold(BaseModel):
    """A hold that still reserves funds, and the service whose saga reserved it."""

    model_config = ConfigDict(json_schema_extra={"examples": [ACTIVE_HOLD_EXAMPLE]})

    id: str
    account_id: str
    reserved_by: str | None = Field(
        description="The service whose saga reserved it (none on holds made before it was kept)"
    )
    reference: str
    amount_minor: int
    currency: str
    created_at: datetime
    expires_at: datetime | None


class ActiveHolds(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"checked_at": "2025-06-02T09:35:00Z", "total": 1, "items": [ACTIVE_HOLD_EXAMPLE]}]
        }
    )

    checked_at: datetime = Field(description="The sandbox clock when accounts looked")
    total: int = Field(description="Active holds in all (items lists the oldest, at most `limit`)")
    items: list[ActiveHold]


def mask_name(name: str) -> str:
    """Show a payee's name the way Chinese banking apps confirm it: all but the last character hidden."""
    name = name.strip()
    return "*" * (len(name) - 1) + name[-1:] if len(name) > 1 else name


class AccountDirectoryEntry(BaseModel):
    """What another service may know of an account (internal, service callers only)."""

    id: str
    customer_id: str | None
    kind: str
    currency: str
    kyc_class: str | None
    holder: str = Field(description="The holder's name, masked")


class AccountDirectoryList(BaseModel):
    items: list[AccountDirectoryEntry]


class CustomerDirectoryEntry(BaseModel):
    customer_id: str
    kyc_class: str
    holder: str
    default_account_id: str | None = Field(description="The customer's first checking account")


class DailyOutflowEntry(BaseModel):
    """A customer's payments out on a bank day against their KYC class's daily limit
    (internal, service callers only): what accounts checks each reservation against."""

    kyc_class: str
    day: date = Field(description="The bank day (Beijing time) the figure is for")
    daily_limit_minor: int | None = Field(description="None: the class has no daily limit")
    used_minor: int = Field(description="Paid out today plus what active holds toward the limit reserve")
