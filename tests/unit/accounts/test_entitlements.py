"""Who may ask the ledger for what: an internal account moves only by its owner's flows,
and a hold is settled only by the service that reserved it."""

from __future__ import annotations

import pytest

from services.accounts.domain import (
    INTERNAL_ACCOUNT_OWNERS,
    INTERNAL_ACCOUNTS,
    Hold,
    NotEntitled,
    check_entitled,
)
from shared.events.accounts import SAGA_OWNERS


def _hold(reserved_by: str | None) -> Hold:
    return Hold(id="h-1", account_id="acc-1", amount_minor=100, currency="CNY", reserved_by=reserved_by)


def test_every_owned_account_is_an_internal_account_of_a_saga_owner() -> None:
    assert set(INTERNAL_ACCOUNT_OWNERS) <= set(INTERNAL_ACCOUNTS)
    assert set(INTERNAL_ACCOUNT_OWNERS.values()) <= SAGA_OWNERS


@pytest.mark.parametrize(
    ("sender", "account_id"),
    [
        ("payments", "internal:cash-in"),
        ("payments", "internal:biller-settlement"),
        ("securities", "internal:securities-settlement"),
        ("securities", "internal:securities-proceeds"),
        ("insurance", "internal:insurance-premiums"),
        ("insurance", "internal:insurance-claims"),
        ("securities", "acc-of-a-customer"),
    ],
)
def test_a_service_may_name_its_own_internal_accounts_and_customers_accounts(sender: str, account_id: str) -> None:
    check_entitled(sender, (account_id,))


@pytest.mark.parametrize(
    ("sender", "account_id", "reason"),
    [
        ("securities", "internal:cash-in", "securities may not move money of internal:cash-in (it belongs to"),
        ("insurance", "internal:cash-in", "insurance may not move money of internal:cash-in (it belongs to"),
        ("payments", "internal:insurance-claims", "payments may not move money of internal:insurance-claims"),
        ("payments", "internal:securities-proceeds", "payments may not move money of internal:securities-proceeds"),
        ("insurance", "internal:securities-settlement", "insurance may not move money of internal:securities"),
        ("payments", "internal:fees", "payments may not move money of internal:fees (it belongs to no service)"),
    ],
)
def test_another_services_internal_account_is_refused(sender: str, account_id: str, reason: str) -> None:
    with pytest.raises(NotEntitled) as refused:
        check_entitled(sender, ("acc-of-a-customer", account_id))

    assert str(refused.value).startswith(reason)


def test_a_hold_is_settled_by_the_service_that_reserved_it() -> None:
    check_entitled("payments", (), _hold("payments"))

    with pytest.raises(NotEntitled, match="insurance may not settle hold h-1, which payments reserved"):
        check_entitled("insurance", (), _hold("payments"))


def test_a_hold_kept_from_before_holds_recorded_their_reserver_is_anyones_saga() -> None:
    check_entitled("insurance", (), _hold(None))
