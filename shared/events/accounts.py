"""accounts: commands on `accounts.commands` (keyed by account id) and facts on
`accounts.events`. The accounts service is the only writer of money."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.events.envelope import Message
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS

RejectionReason = Literal[
    "insufficient_funds",
    "limit_exceeded",
    "balance_cap_exceeded",
    "account_not_found",
    "currency_mismatch",
    "hold_not_found",
    "hold_not_active",
    "invalid_amount",
]

Amount = Field(gt=0, le=10**15, description="Amount in minor units (fen).")


class AccountCommand(Message):
    TOPIC = ACCOUNTS_COMMANDS
    account_id: str

    def key(self) -> str:
        return self.account_id


class AccountEvent(Message):
    TOPIC = ACCOUNTS_EVENTS
    account_id: str

    def key(self) -> str:
        return self.account_id


# --- commands -------------------------------------------------------------------------


class ReserveFunds(AccountCommand):
    """Place a hold on `account_id`. Replies FundsReserved or ReservationRejected."""

    TYPE = "accounts.ReserveFunds"
    hold_id: str
    amount_minor: int = Amount
    currency: str = "CNY"
    reference: str = ""
    # Payments out of the customer count toward the KYC class's daily outflow limit;
    # moves between the customer's own accounts do not.
    counts_toward_limit: bool = True


class ReleaseHold(AccountCommand):
    """Free a hold. Replies HoldReleased (also for a hold already released)."""

    TYPE = "accounts.ReleaseHold"
    hold_id: str


class CaptureHold(AccountCommand):
    """Turn a hold into a posting into `target_account_id`; an unused rest is released."""

    TYPE = "accounts.CaptureHold"
    hold_id: str
    target_account_id: str
    amount_minor: int | None = Field(default=None, gt=0, description="Defaults to the whole hold.")
    description: str = ""


class CreditAccount(AccountCommand):
    """Credit `account_id` from an internal account (cash-in, claims, proceeds)."""

    TYPE = "accounts.CreditAccount"
    credit_id: str
    source_account_id: str
    amount_minor: int = Amount
    currency: str = "CNY"
    description: str = ""


class TransferFunds(AccountCommand):
    """Move money from `account_id` to `to_account_id` in one posting."""

    TYPE = "accounts.TransferFunds"
    transfer_id: str
    to_account_id: str
    amount_minor: int = Amount
    currency: str = "CNY"
    description: str = ""
    counts_toward_limit: bool = True


# --- events ---------------------------------------------------------------------------


class CustomerRegistered(Message):
    TYPE = "accounts.CustomerRegistered"
    TOPIC = ACCOUNTS_EVENTS
    customer_id: str
    phone: str
    name: str
    kyc_class: str

    def key(self) -> str:
        return self.customer_id


class AccountOpened(AccountEvent):
    TYPE = "accounts.AccountOpened"
    customer_id: str | None
    kind: str
    currency: str


class FundsReserved(AccountEvent):
    TYPE = "accounts.FundsReserved"
    hold_id: str
    amount_minor: int
    currency: str
    available_minor: int


class ReservationRejected(AccountEvent):
    TYPE = "accounts.ReservationRejected"
    hold_id: str
    amount_minor: int
    currency: str
    reason: RejectionReason
    detail: str = ""


class HoldReleased(AccountEvent):
    TYPE = "accounts.HoldReleased"
    hold_id: str
    amount_minor: int


class HoldCaptured(AccountEvent):
    TYPE = "accounts.HoldCaptured"
    hold_id: str
    target_account_id: str
    amount_minor: int
    released_minor: int
    entry_id: str


class CaptureRejected(AccountEvent):
    TYPE = "accounts.CaptureRejected"
    hold_id: str
    target_account_id: str
    reason: RejectionReason
    detail: str = ""


class AccountCredited(AccountEvent):
    TYPE = "accounts.AccountCredited"
    credit_id: str
    source_account_id: str
    amount_minor: int
    currency: str
    entry_id: str
    balance_minor: int


class CreditRejected(AccountEvent):
    TYPE = "accounts.CreditRejected"
    credit_id: str
    source_account_id: str
    amount_minor: int
    reason: RejectionReason
    detail: str = ""


class FundsTransferred(AccountEvent):
    TYPE = "accounts.FundsTransferred"
    transfer_id: str
    to_account_id: str
    amount_minor: int
    currency: str
    entry_id: str


class TransferRejected(AccountEvent):
    TYPE = "accounts.TransferRejected"
    transfer_id: str
    to_account_id: str
    amount_minor: int
    reason: RejectionReason
    detail: str = ""
