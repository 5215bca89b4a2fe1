"""Merchant QR payloads (`sandbank://qr/v1?m=<merchant>&a=<amount>&r=<reference>`), billers' reference
formats, and the seeded merchants and billers."""

from __future__ import annotations

import pytest

from services.payments.domain import (
    BILLERS,
    MERCHANTS,
    SANDBOX_FAIL_BILLER,
    PaymentRejected,
    QrPayload,
    parse_qr,
    qr_payload,
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("sandbank://qr/v1?m=M100001&a=32.00&r=T42", QrPayload("M100001", 32_00, "T42")),
        ("sandbank://qr/v1?m=M100002&a=0.01", QrPayload("M100002", 1, "")),
        ("sandbank://qr/v1?m=M100003&a=12.5", QrPayload("M100003", 12_50, "")),
        ("sandbank://qr/v1?m=M100004&a=100", QrPayload("M100004", 100_00, "")),
        ("sandbank://qr/v1?r=table-7&a=8.80&m=M100001", QrPayload("M100001", 8_80, "table-7")),
        ("  sandbank://qr/v1?m=M100001&a=1.00\n", QrPayload("M100001", 1_00, "")),
        # No amount: the customer types it in.
        ("sandbank://qr/v1?m=M100001", QrPayload("M100001", None, "")),
        ("sandbank://qr/v1?m=M100001&r=T9", QrPayload("M100001", None, "T9")),
        ("sandbank://qr/v1?m=M100001&a=", QrPayload("M100001", None, "")),
        # Unknown merchants parse: the API refuses them against the merchant list.
        ("sandbank://qr/v1?m=M999999&a=5.00", QrPayload("M999999", 5_00, "")),
        ("sandbank://qr/v1?m=M100001&r=" + "x" * 100, QrPayload("M100001", None, "x" * 64)),
    ],
    ids=[
        "amount and reference",
        "one fen",
        "one decimal place",
        "whole yuan",
        "any parameter order",
        "surrounding whitespace",
        "amount-less",
        "amount-less with reference",
        "blank amount",
        "unknown merchant",
        "long reference cut to 64",
    ],
)
def test_valid_payloads_parse(payload: str, expected: QrPayload) -> None:
    assert parse_qr(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not a qr code",
        "https://qr/v1?m=M100001&a=1.00",
        "alipay://qr/v1?m=M100001",
        "sandbank://pay/v1?m=M100001",
        "sandbank://qr/v2?m=M100001",
        "sandbank://qr/v1/?m=M100001",
        "sandbank://qr?m=M100001",
        "sandbank://[qr/v1?m=M100001",
        "sandbank://qr/v1",
        "sandbank://qr/v1?a=1.00",
        "sandbank://qr/v1?m=&a=1.00",
        "sandbank://qr/v1?merchant=M100001",
        "sandbank://qr/v1?m=M100001&a=abc",
        "sandbank://qr/v1?m=M100001&a=1,00",
        "sandbank://qr/v1?m=M100001&a=0",
        "sandbank://qr/v1?m=M100001&a=0.00",
        "sandbank://qr/v1?m=M100001&a=-5.00",
        "sandbank://qr/v1?m=M100001&a=1.001",
        "sandbank://qr/v1?m=M100001&a=0.005",
        "sandbank://qr/v1?m=M100001&a=NaN",
        "sandbank://qr/v1?m=M100001&a=Infinity",
        "sandbank://qr/v1?m=M100001&a=100000000000",
    ],
    ids=[
        "empty",
        "not a url",
        "wrong scheme https",
        "wrong scheme alipay",
        "wrong host",
        "wrong version",
        "trailing slash",
        "no version",
        "unparseable url",
        "no query",
        "missing merchant",
        "blank merchant",
        "merchant under another name",
        "amount not a number",
        "amount with a comma",
        "zero amount",
        "zero amount with decimals",
        "negative amount",
        "over-precise amount",
        "half a fen",
        "nan amount",
        "infinite amount",
        "huge amount",
    ],
)
def test_invalid_payloads_are_refused_as_malformed(payload: str) -> None:
    with pytest.raises(PaymentRejected) as refused:
        parse_qr(payload)

    assert refused.value.code == "malformed-qr"
    assert refused.value.detail


def test_amount_error_says_what_is_wrong() -> None:
    with pytest.raises(PaymentRejected) as refused:
        parse_qr("sandbank://qr/v1?m=M100001&a=1.001")
    assert "decimal places" in refused.value.detail


@pytest.mark.parametrize("merchant", sorted(MERCHANTS))
@pytest.mark.parametrize(("amount", "minor"), [("12.50", 12_50), (None, None)])
def test_generated_payloads_parse_back(merchant: str, amount: str | None, minor: int | None) -> None:
    assert parse_qr(qr_payload(merchant, amount, "ref-1")) == QrPayload(merchant, minor, "ref-1")


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
