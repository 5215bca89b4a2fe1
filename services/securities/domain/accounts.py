"""Which of a customer's cash accounts an order or a bank-securities transfer uses, and
the amount a transfer moves. The accounts are accounts' answer for the customer; each is
checked to be theirs all the same."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, TypeVar

from shared.errors import DomainError
from shared.money import InvalidAmount, format_minor, to_minor

SECURITIES_CASH = "securities_cash"
BANK_KINDS = ("checking", "savings")


class CashAccount(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def customer_id(self) -> str | None: ...


A = TypeVar("A", bound=CashAccount)


class NoSecuritiesAccount(DomainError):
    code = "no-securities-account"

    def __init__(self) -> None:
        super().__init__('open a securities cash account first (POST /v1/accounts {"kind": "securities_cash"})')


class NoBankAccount(DomainError):
    code = "no-bank-account"

    def __init__(self) -> None:
        super().__init__("open a checking account first (POST /v1/accounts)")


class NotABankAccount(DomainError):
    code = "not-a-bank-account"


class AccountNotFound(DomainError):
    code = "not-found"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} was not found")


class InvalidTransferAmount(DomainError):
    code = "invalid-amount"


class NotWithdrawableYet(DomainError):
    """A transfer out would take today's sale proceeds, which are withdrawable only from
    the next bank day (T+1)."""

    code = "not-withdrawable-yet"


def withdrawable_minor(available_minor: int, proceeds_today_minor: int) -> int:
    """可取: the available cash less today's sale proceeds. Proceeds can be spent on buys at
    once (可用) but leave for the bank only from the next bank day. A buy is taken as paid
    from the withdrawable cash first: the cautious reading, never more than the customer
    may take out."""
    return max(0, available_minor - max(0, proceeds_today_minor))


def check_withdrawal(amount_minor: int, available_minor: int, proceeds_today_minor: int) -> None:
    """Refuse a transfer out that would take today's sale proceeds. Without proceeds
    today, whether the cash is there is accounts' answer (insufficient_funds)."""
    withdrawable = withdrawable_minor(available_minor, proceeds_today_minor)
    if proceeds_today_minor > 0 and amount_minor > withdrawable:
        raise NotWithdrawableYet(
            f"{format_minor(amount_minor)} CNY is more than the {format_minor(withdrawable)} CNY withdrawable now: "
            f"{format_minor(proceeds_today_minor)} CNY of today's sale proceeds can buy shares at once but "
            "move to the bank from the next bank day (T+1)"
        )


class InsufficientCash(DomainError):
    """A buy would reserve more than the securities cash account has available."""

    code = "insufficient-funds"


def _own(accounts: Sequence[A], customer_id: str) -> list[A]:
    return [a for a in accounts if a.customer_id == customer_id]


def securities_account(accounts: Sequence[A], customer_id: str) -> A:
    """The customer's securities cash account: where orders hold and receive cash."""
    found = next((a for a in _own(accounts, customer_id) if a.kind == SECURITIES_CASH), None)
    if found is None:
        raise NoSecuritiesAccount()
    return found


def transfer_accounts(accounts: Sequence[A], customer_id: str, bank_account_id: str | None) -> tuple[A, A]:
    """(bank account, securities cash account) for a bank-securities transfer: the named
    checking or savings account, or the customer's first checking account."""
    own = _own(accounts, customer_id)
    securities = securities_account(own, customer_id)
    if bank_account_id is not None:
        bank = next((a for a in own if a.id == bank_account_id), None)
        if bank is None:
            raise AccountNotFound(bank_account_id)
        if bank.kind not in BANK_KINDS:
            raise NotABankAccount(f"account {bank_account_id} is a {bank.kind} account")
        return bank, securities
    first_checking = next((a for a in own if a.kind == "checking"), None)
    if first_checking is None:
        raise NoBankAccount()
    return first_checking, securities


def transfer_amount_minor(amount: Decimal, currency: str) -> int:
    try:
        return to_minor(amount, currency)
    except InvalidAmount as exc:
        raise InvalidTransferAmount(str(exc)) from None
