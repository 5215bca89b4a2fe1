"""A malformed merchant QR refuses a payment, billers' reference formats, and the seeded
merchants and billers."""

from __future__ import annotations

import pytest

from services.payments.domain import (
    BILLERS,
    MERCHANTS,
    SANDBOX_FAIL_BILLER,
    PaymentRejected,
    parse_qr,
)
from shared.payees import qr_payload

# The QR format itself is shared with the gateway: tests/unit/shared/test_payees.py.


@pytest.mark.parametrize(
    "payload",
    [
        "https://example.com/qr?m=M100001",
        "sandbank://qr/v1?a=1.00",
        "sandbank://qr/v1?m=M100001&a=1.001",
        "sandbank://qr/v1?m=M100001&a=1.00&a=2000.00",
        "sandbank://qr/v1?m=M100001&m=M100002&a=1.00",
        "sandbank://qr/v1?m=M100001&a=1.00&r=T42%0AAmount%209999.00",
        "sandbank://qr/v1?m=M100001&a=1.00&r=%E2%80%AET42",
    ],
    ids=[
        "not a Sandbank QR",
        "no merchant",
        "over-precise amount",
        "two amounts",
        "two merchants",
        "a line break in the reference",
        "a right-to-left override in the reference",
    ],
)
def test_a_malformed_qr_refuses_the_payment_and_says_why(payload: str) -> None:
    with pytest.raises(PaymentRejected) as refused:
        parse_qr(payload)

    assert refused.value.code == "malformed-qr"
    assert refused.value.detail


@pytest.mark.parametrize("merchant", sorted(MERCHANTS))
def test_every_seeded_merchant_has_a_payload_that_parses_back(merchant: str) -> None:
    assert parse_qr(qr_payload(merchant, "12.50")).merchant_id == merchant


def test_merchants_settle_into_the_merchant_settlement_account() -> None:
    assert {m.settlement_account_id for m in MERCHANTS.values()} == {"internal:merchant-settlement"}


# --- billers' references -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("biller", "reference"),
    [
        ("SH-WATER", "3100012345"),
        ("SG-ELEC", "1234567890"),
        ("SG-ELEC", "1234567890123"),
        ("TG-GAS", "HK12345678"),
        ("CM-PHONE", "13800138000"),
        ("CM-PHONE", "19912345678"),
        (SANDBOX_FAIL_BILLER, "anything at all"),
        (SANDBOX_FAIL_BILLER, "x" * 40),
    ],
)
def test_well_formed_references_are_accepted(biller: str, reference: str) -> None:
    BILLERS[biller].check_reference(reference)


@pytest.mark.parametrize(
    ("biller", "reference"),
    [
        ("SH-WATER", "310001234"),
        ("SH-WATER", "31000123456"),
        ("SH-WATER", "31000a2345"),
        ("SH-WATER", " 3100012345"),
        ("SH-WATER", "3100012345\n"),
        ("SH-WATER", "\uff13\uff11\uff10\uff10\uff10\uff11\uff12\uff13\uff14\uff15"),
        ("SG-ELEC", "123456789"),
        ("SG-ELEC", "12345678901234"),
        ("TG-GAS", "hk12345678"),
        ("TG-GAS", "HK1234567"),
        ("TG-GAS", "H123456789"),
        ("CM-PHONE", "12800138000"),
        ("CM-PHONE", "+8613800138000"),
        ("CM-PHONE", "1380013800"),
        ("CM-PHONE", "13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10"),
        (SANDBOX_FAIL_BILLER, ""),
        (SANDBOX_FAIL_BILLER, "x" * 41),
    ],
    ids=[
        "water 9 digits",
        "water 11 digits",
        "water letter",
        "water leading space",
        "water trailing newline",
        "water full-width digits",
        "electricity 9 digits",
        "electricity 14 digits",
        "gas lower-case letters",
        "gas 7 digits",
        "gas one letter",
        "phone starting 12",
        "phone with country code",
        "phone 10 digits",
        "phone full-width digits",
        "sandbox empty",
        "sandbox too long",
    ],
)
def test_malformed_references_are_refused_with_the_hint(biller: str, reference: str) -> None:
    with pytest.raises(PaymentRejected) as refused:
        BILLERS[biller].check_reference(reference)

    assert refused.value.code == "invalid-bill-reference"
    assert BILLERS[biller].reference_hint in refused.value.detail


def test_the_seeded_billers_cover_water_electricity_gas_and_phone() -> None:
    assert {"water", "electricity", "gas", "phone"} <= {b.category for b in BILLERS.values()}
    assert SANDBOX_FAIL_BILLER in BILLERS
    assert {b.settlement_account_id for b in BILLERS.values()} == {"internal:biller-settlement"}
