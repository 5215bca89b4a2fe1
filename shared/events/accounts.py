"""accounts: commands on `accounts.commands` (keyed by account id) and facts on
`accounts.events`. The accounts service is the only writer of money."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.envelope import Message
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS
from shared.schemas.statements import LineKind, ReferenceKind

RejectionReason = Literal[
    "insufficient_funds",
    "limit_exceeded",
    "balance_cap_exceeded",
    "account_not_found",
    "currency_mismatch",
    "hold_not_found",
    "hold_not_active",
    "invalid_amount",
    "account_frozen",
]

# The services whose sagas ask accounts to move their customers' money. Which internal
# accounts and which holds each may use, accounts decides (services/accounts/domain.py).
SAGA_OWNERS = frozenset({"payments", "securities", "insurance"})

# Ids are stored in 64-character columns; longer ones are refused at decode time.
Id = Field(max_length=64)
Amount = Field(gt=0, le=10**15, description="Amount in minor units (fen).")


class AccountCommand(Message):
    TOPIC = ACCOUNTS_COMMANDS
    SENDERS = SAGA_OWNERS
    account_id: str = Id

    def key(self) -> str:
        return self.account_id


class AccountEvent(Message):
    TOPIC = ACCOUNTS_EVENTS
    account_id: str = Id

    def key(self) -> str:
        return self.account_id


class StatementText(BaseModel):
    """How a posting reads on each side's statement: the debited account's line (money
    out) and the credited one's (money in), and the business object behind both. A
    command without it (sent before it existed) posts its one `description` on both
    sides, and accounts derives a kind for it (services/accounts/statements.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference_kind: ReferenceKind
    reference_id: str = Id
    debit_kind: LineKind
    debit_description: str = Field(max_length=200)
    credit_kind: LineKind
    credit_description: str = Field(max_length=200)


STATEMENT = Field(
    default=None,
    description="Each side's statement line and the business object behind it (since version 2).",
)


# --- commands -------------------------------------------------------------------------


class ReserveFunds(AccountCommand):
    """Place a hold on `account_id`. Replies FundsReserved or ReservationRejected; with
    `target_account_id` (since version 2) the hold is captured into it in the same
    transaction, and the reply is HoldCaptured, CaptureRejected (the hold stays placed,
    for its sender to release) or ReservationRejected."""

    TYPE = "accounts.ReserveFunds"
    VERSION = 2
    hold_id: str = Id
    amount_minor: int = Amount
    currency: str = "CNY"
    reference: str = ""
    # Payments out of the customer count toward the KYC class's daily outflow limit;
    # moves between the customer's own accounts do not.
    counts_toward_limit: bool = True
    expires_at: datetime | None = Field(
        default=None,
        description="When the saga will have settled the hold at the latest (a resting order: "
        "the end of its trading day). Without it the ledger check calls a hold stale after its "
        "saga timeout.",
    )
    target_account_id: str | None = Field(
        default=None,
        max_length=64,
        description="Capture the whole hold into this account as soon as it is placed (since version 2): "
        "a payment its sender has already decided to make, in one command instead of two.",
    )
    statement: StatementText | None = Field(
        default=None, description="The capture's statement lines, with `target_account_id` (since version 2)."
    )


class ReleaseHold(AccountCommand):
    """Free a hold. Replies HoldReleased (also for a hold already released)."""

    TYPE = "accounts.ReleaseHold"
    hold_id: str = Id


class CaptureHold(AccountCommand):
    """Turn a hold into a posting into `target_account_id`; an unused rest is released."""

    TYPE = "accounts.CaptureHold"
    VERSION = 2
    hold_id: str = Id
    target_account_id: str = Id
    amount_minor: int | None = Field(default=None, gt=0, description="Defaults to the whole hold.")
    description: str = ""
    statement: StatementText | None = STATEMENT


class CreditAccount(AccountCommand):
    """Credit `account_id` from an internal account (cash-in, claims, proceeds)."""

    TYPE = "accounts.CreditAccount"
    VERSION = 2
    credit_id: str = Id
    source_account_id: str = Id
    amount_minor: int = Amount
    currency: str = "CNY"
    description: str = ""
    statement: StatementText | None = STATEMENT


class TransferFunds(AccountCommand):
    """Move money from `account_id` to `to_account_id` in one posting."""

    TYPE = "accounts.TransferFunds"
    VERSION = 2
    # Only the bank-securities transfers between a customer's own accounts use it.
    SENDERS = frozenset({"securities"})
    transfer_id: str = Id
    to_account_id: str = Id
    amount_minor: int = Amount
    currency: str = "CNY"
    description: str = ""
    statement: StatementText | None = STATEMENT
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


class KycApplicationDecided(Message):
    """A customer's KYC upgrade application was approved (their class is now `kyc_class`)
    or refused (`kyc_class` is the one they keep), by the sandbox rule or an officer."""

    TYPE = "accounts.KycApplicationDecided"
    TOPIC = ACCOUNTS_EVENTS
    customer_id: str
    application_id: str
    status: Literal["approved", "refused"]
    reason: str
    kyc_class: str
    decided_by: str

    def key(self) -> str:
        return self.customer_id


class AccountOpened(AccountEvent):
    TYPE = "accounts.AccountOpened"
    customer_id: str | None
    kind: str
    currency: str


class AccountFrozen(AccountEvent):
    """An operator with the compliance role froze the account: `full` (nothing in or
    out) or `outflows` (nothing out), with the reason the customer is told. A freeze
    that changes the mode or reason of a frozen account is published again."""

    TYPE = "accounts.AccountFrozen"
    customer_id: str | None
    mode: Literal["full", "outflows"]
    reason: str
    frozen_at: datetime
    previous_mode: Literal["full", "outflows"] | None = None


class AccountUnfrozen(AccountEvent):
    """The freeze on the account was lifted."""

    TYPE = "accounts.AccountUnfrozen"
    customer_id: str | None
    previous_mode: Literal["full", "outflows"]
    reason: str


class FundsReserved(AccountEvent):
    TYPE = "accounts.FundsReserved"
    hold_id: str = Id
    amount_minor: int
    currency: str
    available_minor: int


class ReservationRejected(AccountEvent):
    TYPE = "accounts.ReservationRejected"
    hold_id: str = Id
    amount_minor: int
    currency: str
    reason: RejectionReason
    detail: str = ""


class HoldReleased(AccountEvent):
    TYPE = "accounts.HoldReleased"
    hold_id: str = Id
    amount_minor: int


class HoldCaptured(AccountEvent):
    TYPE = "accounts.HoldCaptured"
    hold_id: str = Id
    target_account_id: str = Id
    amount_minor: int
    released_minor: int
    entry_id: str


class CaptureRejected(AccountEvent):
    TYPE = "accounts.CaptureRejected"
    hold_id: str = Id
    target_account_id: str = Id
    reason: RejectionReason
    detail: str = ""


class AccountCredited(AccountEvent):
    TYPE = "accounts.AccountCredited"
    credit_id: str = Id
    source_account_id: str = Id
    amount_minor: int
    currency: str
    entry_id: str
    balance_minor: int


class CreditRejected(AccountEvent):
    TYPE = "accounts.CreditRejected"
    credit_id: str = Id
    source_account_id: str = Id
    amount_minor: int
    reason: RejectionReason
    detail: str = ""


class FundsTransferred(AccountEvent):
    TYPE = "accounts.FundsTransferred"
    transfer_id: str = Id
    to_account_id: str = Id
    amount_minor: int
    currency: str
    entry_id: str


class TransferRejected(AccountEvent):
    TYPE = "accounts.TransferRejected"
    transfer_id: str = Id
    to_account_id: str = Id
    amount_minor: int
    reason: RejectionReason
    detail: str = ""


# --- anti-money-laundering (services/accounts/compliance) ------------------------------


class ComplianceAlertRaised(Message):
    """An AML rule raised an alert for the compliance queue: a large-value transaction or
    a suspicious pattern, with the movements behind it. For the bank's own eyes: the
    customer is never told (no tipping-off)."""

    TYPE = "accounts.ComplianceAlertRaised"
    TOPIC = ACCOUNTS_EVENTS
    alert_id: str = Id
    rule: str
    category: Literal["large_value", "suspicious"]
    customer_id: str = Id
    account_id: str = Id
    total_minor: int
    currency: str
    forced: bool = Field(description="Raised by a sandbox magic amount rather than the rule's thresholds")
    movement_ids: list[str]

    def key(self) -> str:
        return self.alert_id


class ComplianceAlertDecided(Message):
    """A compliance reviewer closed an alert: `reported` filed a report, `dismissed` did not."""

    TYPE = "accounts.ComplianceAlertDecided"
    TOPIC = ACCOUNTS_EVENTS
    alert_id: str = Id
    rule: str
    customer_id: str = Id
    decision: Literal["reported", "dismissed"]
    decided_by: str
    report_id: str | None = None

    def key(self) -> str:
        return self.alert_id
