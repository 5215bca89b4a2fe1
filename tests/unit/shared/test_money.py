"""shared.money: amounts in, integer minor units out; never floats, never a surprise."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import MAX_MINOR, InvalidAmount, format_minor, to_minor


@pytest.mark.parametrize(
    ("value", "minor"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("0.01", 1),
        ("1", 100),
        (" 7.00 ", 700),
        ("1.000", 100),  # trailing zeros are not extra precision
        (Decimal("3.10"), 310),
        (5, 500),
        (12.5, 1250),
        (0.1, 10),  # repr(0.1) is "0.1": the float means what it prints
        ("10000000000.00", MAX_MINOR),
    ],
)
def test_to_minor_accepts(value: object, minor: int) -> None:
    assert to_minor(value) == minor


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("0", id="zero"),
        pytest.param("0.00", id="zero with places"),
        pytest.param(0, id="zero int"),
        pytest.param(0.0, id="zero float"),
        pytest.param(-0.0, id="negative zero"),
        pytest.param("-0", id="negative zero string"),
        pytest.param("-1.00", id="negative"),
        pytest.param(-5, id="negative int"),
        pytest.param(Decimal("-0.01"), id="negative decimal"),
        pytest.param("0.001", id="over-precise"),
        pytest.param("12.505", id="over-precise by a tenth of a fen"),
        pytest.param(12.505, id="over-precise float"),
        pytest.param(0.1 + 0.2, id="binary float noise"),
        pytest.param(5e-324, id="denormal float"),
        pytest.param("10000000000.01", id="one fen over the maximum"),
        pytest.param(MAX_MINOR, id="huge int (in yuan, so 100x the maximum)"),
        pytest.param("9" * 30, id="huge string"),
        pytest.param(1e308, id="huge float"),
        pytest.param("1e5000", id="huge exponent"),
        pytest.param("NaN", id="NaN"),
        pytest.param("sNaN", id="signalling NaN"),
        pytest.param(float("nan"), id="float NaN"),
        pytest.param(Decimal("NaN"), id="Decimal NaN"),
        pytest.param("Infinity", id="infinity"),
        pytest.param(float("-inf"), id="float -infinity"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("abc", id="not a number"),
        pytest.param("1,00", id="decimal comma"),
        pytest.param("0x10", id="hex"),
        pytest.param("12.50 CNY", id="trailing currency"),
        pytest.param(None, id="None"),
        pytest.param(True, id="bool"),
        pytest.param([], id="list"),
    ],
)
def test_to_minor_refuses(value: object) -> None:
    with pytest.raises(InvalidAmount):
        to_minor(value)


@pytest.mark.parametrize(
    "value",
    [
        # decimal.Overflow escapes instead of InvalidAmount: the API answers 500.
        pytest.param("1e1000000", id="exponent beyond the decimal context"),
        # int -> str conversion limit (PEP 651 / CVE-2020-10735) raises a bare ValueError.
        pytest.param(10**5000, id="int beyond the str conversion limit"),
    ],
)
def test_to_minor_refuses_absurd_magnitudes_as_invalid_amount(value: object) -> None:
    with pytest.raises(InvalidAmount):
        to_minor(value)


def test_to_minor_refuses_unknown_currency() -> None:
    with pytest.raises(InvalidAmount, match="not supported"):
        to_minor("1.00", "XXX")


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (1250, "12.50"),
        (-1, "-0.01"),
        (-100, "-1.00"),
        (-123456, "-1234.56"),
        (MAX_MINOR, "10000000000.00"),
        (10**20, "1000000000000000000.00"),
    ],
)
def test_format_minor(minor: int, text: str) -> None:
    assert format_minor(minor) == text


def test_format_minor_refuses_unknown_currency() -> None:
    with pytest.raises(InvalidAmount):
        format_minor(100, "XXX")


@given(st.integers(min_value=1, max_value=MAX_MINOR))
def test_format_then_parse_round_trips(minor: int) -> None:
    assert to_minor(format_minor(minor)) == minor


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_format_is_exact_for_any_sign(minor: int) -> None:
    assert Decimal(format_minor(minor)) * 100 == minor
