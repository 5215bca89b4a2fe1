"""Payee keys and merchant QR payloads (`sandbank://qr/v1?m=<merchant>&a=<amount>&r=<reference>`),
as payments and the gateway both read them."""

from __future__ import annotations

import pytest

from shared.payees import (
    MalformedQr,
    QrPayload,
    account_payee,
    biller_payee,
    merchant_payee,
    mobile_payee,
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
        "sandbank://qr/v1?m=M100001&a=1E%2B1",
        "sandbank://qr/v1?m=M100001&a=%2B1.00",
        "sandbank://qr/v1?m=M100001&a=001.00",
        "sandbank://qr/v1?m=M100001&a=1.",
        "sandbank://qr/v1?m=M100001&a=.5",
        "sandbank://qr/v1?m=M100001&a=+1.00",
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
        "exponent",
        "plus sign",
        "leading zeros",
        "trailing point",
        "no digit before the point",
        "plus that reads as a space",
        "infinite amount",
        "huge amount",
    ],
)
def test_invalid_payloads_are_refused(payload: str) -> None:
    with pytest.raises(MalformedQr) as refused:
        parse_qr(payload)

    assert refused.value.detail


def test_amount_error_says_what_is_wrong() -> None:
    with pytest.raises(MalformedQr) as refused:
        parse_qr("sandbank://qr/v1?m=M100001&a=1.001")
    assert "decimal places" in refused.value.detail


@pytest.mark.parametrize(("amount", "minor"), [("12.50", 12_50), (None, None)])
@pytest.mark.parametrize("reference", ["ref-1", None])
def test_generated_payloads_parse_back(amount: str | None, minor: int | None, reference: str | None) -> None:
    assert parse_qr(qr_payload("M100001", amount, reference)) == QrPayload("M100001", minor, reference or "")


def test_payee_keys_name_where_the_money_lands() -> None:
    assert account_payee("a-1") == "account:a-1"
    assert biller_payee("SH-WATER", "3100012345") == "biller:SH-WATER:3100012345"
    assert merchant_payee("M100001") == "merchant:M100001"
    assert mobile_payee("+8613800138000") == "mobile:+8613800138000"
