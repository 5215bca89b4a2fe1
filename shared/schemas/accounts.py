"""Public request and response bodies of the accounts API; the gateway serves the same shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import format_minor


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=36)
    phone: str = Field(min_length=5, max_length=20)
    name: str = Field(min_length=1, max_length=100)
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


class AccountPublic(BaseModel):
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

    @classmethod
    def of(cls, a) -> AccountPublic:  # type: ignore[no-untyped-def]
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
        )


class AccountList(BaseModel):
    items: list[AccountPublic]


class TransactionPublic(BaseModel):
    id: int
    entry_id: str
    kind: str
    direction: Literal["credit", "debit"]
    amount: str
    amount_minor: int = Field(description="Signed: positive credits the account")
    currency: str
    balance_after: str
    balance_after_minor: int
    counterparty_account_id: str | None
    description: str
    created_at: datetime


class TransactionPage(BaseModel):
    items: list[TransactionPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class LedgerViolation(BaseModel):
    rule: str
    detail: str
    account_id: str | None = None


class LedgerCheck(BaseModel):
    ok: bool
    checked_at: str
    accounts_checked: int
    entries_checked: int
    active_holds: int
    totals_minor: dict[str, int]
    violations: list[LedgerViolation]


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


class CustomerDirectoryEntry(BaseModel):
    customer_id: str
    kyc_class: str
    holder: str
    default_account_id: str | None = Field(description="The customer's first checking account")
