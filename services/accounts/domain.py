"""The ledger's rules as plain code: accounts, holds, postings and KYC class limits.

Handlers load state into these objects, call a rule, and store what it changed;
the rules themselves never touch a database or a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.money import format_minor


class KycClass(StrEnum):
    """PBoC account classes by strength of identity verification."""

    I = "I"  # noqa: E741  (the regulation's own name)
    II = "II"
    III = "III"


class AccountKind(StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"
    SECURITIES_CASH = "securities_cash"
    INTERNAL = "internal"


CUSTOMER_ACCOUNT_KINDS = (AccountKind.CHECKING, AccountKind.SAVINGS, AccountKind.SECURITIES_CASH)


class HoldStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    CAPTURED = "captured"
    REJECTED = "rejected"


# Internal accounts: the other side of every posting that enters or leaves customers.
INTERNAL_ACCOUNTS = {
    "internal:cash-in": "External cash-in (sandbox deposits)",
    "internal:fees": "Fee income",
    "internal:biller-settlement": "Biller settlement",
    "internal:merchant-settlement": "Merchant settlement",
    "internal:topup-settlement": "Mobile top-up settlement",
    "internal:securities-settlement": "Securities settlement",
    "internal:securities-proceeds": "Securities sale proceeds",
    "internal:insurance-premiums": "Insurance premiums",
    "internal:insurance-claims": "Insurance claims payouts",
}

# Whose flows may name an internal account in a command (credit from it, hold on it,
# capture or transfer into or out of it): the service that settles through it. An
# internal account may overdraw, so whoever could credit from it could make money.
# Fees are nobody's flow yet.
INTERNAL_ACCOUNT_OWNERS = {
    "internal:cash-in": "payments",  # sandbox deposits
    "internal:biller-settlement": "payments",
    "internal:merchant-settlement": "payments",
    "internal:topup-settlement": "payments",
    "internal:securities-settlement": "securities",
    "internal:securities-proceeds": "securities",
    "internal:insurance-premiums": "insurance",
    "internal:insurance-claims": "insurance",
}


@dataclass(frozen=True)
class ClassLimits:
    """Daily outflow and balance cap per KYC class, in minor units (None = no limit)."""

    daily_outflow_minor: dict[KycClass, int | None] = field(
        default_factory=lambda: {KycClass.I: None, KycClass.II: 10_000_00, KycClass.III: 2_000_00}
    )
    balance_cap_minor: dict[KycClass, int | None] = field(
        default_factory=lambda: {KycClass.I: None, KycClass.II: None, KycClass.III: 2_000_00}
    )


class LedgerError(Exception):
    reason = "invalid_amount"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InsufficientFunds(LedgerError):
    reason = "insufficient_funds"


class LimitExceeded(LedgerError):
    reason = "limit_exceeded"


class BalanceCapExceeded(LedgerError):
    reason = "balance_cap_exceeded"


class CurrencyMismatch(LedgerError):
    reason = "currency_mismatch"


class HoldNotActive(LedgerError):
    reason = "hold_not_active"


class InvalidAmount(LedgerError):
    reason = "invalid_amount"


class AccountFrozen(LedgerError):
    reason = "account_frozen"


class FreezeMode(StrEnum):
    """A freeze an operator with the compliance role puts on an account: `full` stops
    every movement, `outflows` stops money leaving and still lets it in."""

    FULL = "full"
    OUTFLOWS = "outflows"


@dataclass
class Account:
    id: str
    currency: str
    balance_minor: int = 0
    held_minor: int = 0
    customer_id: str | None = None
    kyc_class: KycClass | None = None
    allow_overdraft: bool = False
    freeze_mode: FreezeMode | None = None
    # The reason the operator gave, which the customer sees too.
    freeze_reason: str | None = None

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.held_minor


@dataclass
class Hold:
    """Funds reserved on an account for a saga, until it captures or releases them. A
    rejected reservation is kept as a hold too (status `rejected`, with its reason), so a
    re-sent reservation gets the same answer."""

    id: str
    account_id: str
    amount_minor: int
    currency: str
    status: HoldStatus = HoldStatus.ACTIVE
    counts_toward_limit: bool = True
    customer_id: str | None = None
    reference: str = ""
    reason: str | None = None
    detail: str | None = None
    target_account_id: str | None = None
    captured_minor: int | None = None
    entry_id: str | None = None
    # When the saga will have settled it at the latest (a resting order's day end).
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The service whose saga reserved it: the only one that may capture or release it
    # (None for a hold kept from before holds recorded it).
    reserved_by: str | None = None

    @property
    def counts_today(self) -> bool:
        """Whether it still reserves part of its customer's daily outflow limit."""
        return self.status == HoldStatus.ACTIVE and self.counts_toward_limit


@dataclass(frozen=True)
class Line:
    account_id: str
    amount_minor: int  # positive credits the account, negative debits it
    currency: str


@dataclass(frozen=True)
class Posting:
    """A journal entry: lines that sum to zero per currency."""

    lines: tuple[Line, ...]

    def __post_init__(self) -> None:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.currency] = totals.get(line.currency, 0) + line.amount_minor
        if any(totals.values()):
            raise ValueError(f"unbalanced posting: {totals}")


class NotEntitled(Exception):
    """A service asked for what its flows may not do: not a ledger answer to the saga, a
    refusal of the sender (the message is dead-lettered, nothing moves)."""


def check_entitled(sender: str, account_ids: tuple[str, ...], hold: Hold | None = None) -> None:
    """`sender` may name these accounts and settle this hold, or NotEntitled says why not."""
    for account_id in account_ids:
        if account_id in INTERNAL_ACCOUNTS and INTERNAL_ACCOUNT_OWNERS.get(account_id) != sender:
            owner = INTERNAL_ACCOUNT_OWNERS.get(account_id, "no service")
            raise NotEntitled(f"{sender} may not move money of {account_id} (it belongs to {owner})")
    if hold is not None and hold.reserved_by is not None and hold.reserved_by != sender:
        raise NotEntitled(f"{sender} may not settle hold {hold.id}, which {hold.reserved_by} reserved")


def _positive(amount_minor: int) -> None:
    if amount_minor <= 0:
        raise InvalidAmount("amount must be greater than zero")


def _same_currency(account: Account, currency: str) -> None:
    if account.currency != currency:
        raise CurrencyMismatch(f"account {account.id} holds {account.currency}, not {currency}")


def check_outflow(account: Account, amount_minor: int, outflow_today_minor: int, limits: ClassLimits) -> None:
    """Class II/III accounts may pay out only so much a day (holds count as spent)."""
    if account.kyc_class is None:
        return
    limit = limits.daily_outflow_minor.get(account.kyc_class)
    if limit is not None and outflow_today_minor + amount_minor > limit:
        left = max(0, limit - outflow_today_minor)
        raise LimitExceeded(
            f"class {account.kyc_class} daily limit is {format_minor(limit, account.currency)} "
            f"{account.currency}; {format_minor(left, account.currency)} left today"
        )


def check_balance_cap(account: Account, amount_minor: int, limits: ClassLimits) -> None:
    if account.kyc_class is None:
        return
    cap = limits.balance_cap_minor.get(account.kyc_class)
    if cap is not None and account.balance_minor + amount_minor > cap:
        raise BalanceCapExceeded(
            f"class {account.kyc_class} accounts may hold at most "
            f"{format_minor(cap, account.currency)} {account.currency}"
        )


def check_not_frozen(account: Account, *, incoming: bool) -> None:
    """Every hold and debit passes here, and every credit to a customer's account: a
    frozen account lets nothing out, a fully frozen one nothing in either."""
    mode = account.freeze_mode
    if mode is None or (incoming and mode == FreezeMode.OUTFLOWS):
        return
    raise AccountFrozen(f"account {account.id} is frozen ({mode}): {account.freeze_reason or 'no reason given'}")


def _debit_allowed(account: Account, amount_minor: int) -> None:
    check_not_frozen(account, incoming=False)
    if not account.allow_overdraft and account.available_minor < amount_minor:
        raise InsufficientFunds(
            f"available balance {format_minor(account.available_minor, account.currency)} "
            f"{account.currency} is less than {format_minor(amount_minor, account.currency)}"
        )


def reserve(
    account: Account,
    hold: Hold,
    *,
    outflow_today_minor: int,
    limits: ClassLimits,
) -> None:
    """Reserve `hold.amount_minor` on the account (raises a LedgerError if it may not)."""
    _positive(hold.amount_minor)
    check_not_frozen(account, incoming=False)
    _same_currency(account, hold.currency)
    if hold.counts_toward_limit:
        check_outflow(account, hold.amount_minor, outflow_today_minor, limits)
    _debit_allowed(account, hold.amount_minor)
    account.held_minor += hold.amount_minor
    hold.status = HoldStatus.ACTIVE


def release(account: Account, hold: Hold) -> int:
    """Free an active hold; releasing a released hold is a no-op. Returns the amount freed."""
    if hold.status == HoldStatus.RELEASED:
        return 0
    if hold.status != HoldStatus.ACTIVE:
        raise HoldNotActive(f"hold {hold.id} is {hold.status}")
    account.held_minor -= hold.amount_minor
    hold.status = HoldStatus.RELEASED
    return hold.amount_minor


def capture(
    source: Account,
    target: Account,
    hold: Hold,
    amount_minor: int | None,
    *,
    limits: ClassLimits,
) -> tuple[Posting, int]:
    """Turn an active hold into a posting source -> target; the rest is released.

    Returns the posting and the amount released."""
    if hold.status != HoldStatus.ACTIVE:
        raise HoldNotActive(f"hold {hold.id} is {hold.status}")
    amount = hold.amount_minor if amount_minor is None else amount_minor
    _positive(amount)
    if amount > hold.amount_minor:
        raise InvalidAmount(f"capture of {amount} exceeds the hold of {hold.amount_minor}")
    _same_currency(target, hold.currency)
    check_not_frozen(source, incoming=False)
    check_not_frozen(target, incoming=True)
    check_balance_cap(target, amount, limits)
    posting = Posting((Line(source.id, -amount, hold.currency), Line(target.id, amount, hold.currency)))
    source.held_minor -= hold.amount_minor
    apply(posting, {source.id: source, target.id: target})
    hold.status = HoldStatus.CAPTURED
    return posting, hold.amount_minor - amount


def credit(source: Account, target: Account, amount_minor: int, currency: str, *, limits: ClassLimits) -> Posting:
    """Credit `target` from an internal account."""
    _positive(amount_minor)
    _same_currency(target, currency)
    _same_currency(source, currency)
    if source.id == target.id:
        raise InvalidAmount("source and target are the same account")
    check_not_frozen(target, incoming=True)
    check_balance_cap(target, amount_minor, limits)
    _debit_allowed(source, amount_minor)
    posting = Posting((Line(source.id, -amount_minor, currency), Line(target.id, amount_minor, currency)))
    apply(posting, {source.id: source, target.id: target})
    return posting


def transfer(
    source: Account,
    target: Account,
    amount_minor: int,
    currency: str,
    *,
    outflow_today_minor: int,
    counts_toward_limit: bool,
    limits: ClassLimits,
) -> Posting:
    """Move money between two accounts in one posting."""
    _positive(amount_minor)
    _same_currency(source, currency)
    _same_currency(target, currency)
    if source.id == target.id:
        raise InvalidAmount("cannot transfer an account to itself")
    check_not_frozen(source, incoming=False)
    if counts_toward_limit:
        check_outflow(source, amount_minor, outflow_today_minor, limits)
    _debit_allowed(source, amount_minor)
    check_not_frozen(target, incoming=True)
    check_balance_cap(target, amount_minor, limits)
    posting = Posting((Line(source.id, -amount_minor, currency), Line(target.id, amount_minor, currency)))
    apply(posting, {source.id: source, target.id: target})
    return posting


def apply(posting: Posting, accounts: dict[str, Account]) -> None:
    for line in posting.lines:
        accounts[line.account_id].balance_minor += line.amount_minor
