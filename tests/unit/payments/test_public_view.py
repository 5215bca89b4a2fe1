"""What the payer is shown of a payment's payee: a transfer to a phone number shows the
payee's masked name and that number, never the account the number pays into."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.payments import domain
from services.payments.api import public, shown_payee_account
from services.payments.handlers import statement_text
from shared.schemas.accounts import mask_name

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAYEE_ACCOUNT = "5a0e1d3c-0000-4000-8000-000000000201"
PAYEE_CUSTOMER = "9b1c7a2e-0000-4000-8000-000000000002"


def payment(kind: str = "transfer", reference: str = "") -> domain.Payment:
    return domain.Payment(
        id="p-1",
        kind=kind,
        customer_id="payer",
        idempotency_key="k-1",
        payer_account_id="5a0e1d3c-0000-4000-8000-000000000101",
        payer_class="I",
        payee_account_id=PAYEE_ACCOUNT,
        payee_customer_id=PAYEE_CUSTOMER if kind == "transfer" else None,
        payee_key=f"account:{PAYEE_ACCOUNT}",
        payee_label=mask_name("Wang Fang"),
        amount_minor=88_00,
        currency="CNY",
        reference=reference,
        step="completed",
        attempts=0,
        deadline_at=None,
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_transfer_to_a_phone_shows_the_masked_name_and_the_number_only() -> None:
    shown = public(payment(reference="+8613800000002"))
    assert shown.payee.account_id is None and shown.payee.reference == "+8613800000002"
    assert shown.payee.label == "********g"
    assert PAYEE_ACCOUNT not in shown.model_dump_json() and PAYEE_CUSTOMER not in shown.model_dump_json()


def test_the_payee_sees_who_paid_by_masked_name_and_not_the_payers_account() -> None:
    paid = payment()
    paid.payer_label, paid.note = mask_name("Li Wei"), "lunch"

    shown = public(paid, PAYEE_CUSTOMER)

    assert (shown.direction, shown.payer_account_id, shown.payer_label, shown.note) == (
        "incoming",
        None,
        "*****i",
        "lunch",
    )
    assert "5a0e1d3c-0000-4000-8000-000000000101" not in shown.model_dump_json()
    assert public(paid, "payer").direction == "outgoing"


@pytest.mark.parametrize(
    ("kind", "reference", "debit", "credit"),
    [
        (
            "transfer",
            "",
            ("transfer_out", "Transfer to ********g: lunch"),
            ("transfer_in", "Transfer from *****i: lunch"),
        ),
        (
            "bill",
            "3100012345",
            ("bill", "Bill: ********g, ref 3100012345"),
            ("bill", "Bill paid by *****i, ref 3100012345"),
        ),
        ("qr", "", ("qr_payment", "QR payment: ********g"), ("qr_payment", "QR payment from *****i")),
    ],
)
def test_each_side_of_a_payment_reads_its_own_statement_line(
    kind: str, reference: str, debit: tuple[str, str], credit: tuple[str, str]
) -> None:
    paid = payment(kind, reference)
    paid.payer_label, paid.note = mask_name("Li Wei"), "lunch" if kind == "transfer" else ""

    text = statement_text(paid)

    assert (text.reference_kind, text.reference_id) == ("payment", "p-1")
    assert (text.debit_kind, text.debit_description) == debit
    assert (text.credit_kind, text.credit_description) == credit


def test_a_transfer_to_a_named_account_shows_that_account() -> None:
    assert shown_payee_account(payment()) == PAYEE_ACCOUNT


@pytest.mark.parametrize("kind", ["bill", "qr", "topup"])
def test_other_payments_show_no_account(kind: str) -> None:
    assert shown_payee_account(payment(kind, reference="ref")) is None


@pytest.mark.parametrize(
    ("name", "masked"),
    [("Wang Fang", "********g"), ("李伟", "*伟"), ("欧阳娜娜", "***娜"), ("X", "X"), (" 王芳 ", "*芳")],
)
def test_a_name_is_masked_to_its_last_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked
