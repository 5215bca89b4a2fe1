"""Money as integer minor units (fen) with a currency code; never floats.

The public API takes amounts as decimal strings ("12.50"); numbers are accepted
when they carry no more precision than the currency allows.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

CURRENCIES = {"CNY": 2}
DEFAULT_CURRENCY = "CNY"
# 10 billion CNY: anything above is a typo or an attack, not a payment.
MAX_MINOR = 10**12


class InvalidAmount(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise InvalidAmount(f"currency {currency!r} is not supported; use one of {sorted(CURRENCIES)}") from None


def to_minor(value: Any, currency: str = DEFAULT_CURRENCY) -> int:
    """Parse a positive decimal amount into minor units, refusing over-precise ones."""
    amount = value if isinstance(value, Decimal) else _parse_amount(value)
    if not amount.is_finite():
        raise InvalidAmount("amount must be a finite number")
    if amount.adjusted() > 15:  # refuse before scaling: 1e999999 would overflow the context
        raise InvalidAmount(f"amount exceeds the maximum of {format_minor(MAX_MINOR, currency)}")
    if amount.adjusted() < -10:
        raise InvalidAmount(f"amount {value} has more than {exponent(currency)} decimal places")
    places = exponent(currency)
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"amount {value} has more than {places} decimal places")
    minor = int(scaled)
    if minor <= 0:
        raise InvalidAmount("amount must be greater than zero")
    if minor > MAX_MINOR:
        raise InvalidAmount(f"amount exceeds the maximum of {format_minor(MAX_MINOR, currency)}")
    return minor


def format_minor(minor: int, currency: str = DEFAULT_CURRENCY) -> str:
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def _parse_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidAmount('amount must be a decimal string such as "12.50"')
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip() if not isinstance(value, int) or abs(value) < 10**30 else "1e30"
    if len(text) > 64:
        raise InvalidAmount("amount is too long to be a sum of money")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidAmount(f"amount {value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise InvalidAmount("amount must be a finite number")
    return amount


# An amount as the API receives it: a decimal, validated against the currency later
# (the currency is a sibling field) with `to_minor`.
AmountIn = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    PlainSerializer(lambda d: str(d), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "examples": ["100.00"]}),
]
