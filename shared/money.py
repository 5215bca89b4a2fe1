"""Money as integer minor units (fen) with a currency code; never floats.

The public API takes amounts only as JSON strings matching `AMOUNT_PATTERN`
("12.50", "0.50", "7"): no JSON numbers, no sign, no exponent, no spaces, no leading
zeros, at most two decimal places and eleven integer digits. `to_minor` stays lenient
for the sandbox's own inputs (settings); the API boundary is `AmountIn`, and a merchant
QR code's amount (shared/payees.py) has the same pattern.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CURRENCIES = {"CNY": 2}
DEFAULT_CURRENCY = "CNY"
# 10 billion CNY: anything above is a typo or an attack, not a payment.
MAX_MINOR = 10**12
# What an amount looks like on the wire, for every request in every service and the
# gateway. "0.50" is valid, "001.00" is not; 11 integer digits reach MAX_MINOR (the
# maximum itself is then checked in fen). [0-9], not \d: Python's \d takes any script's digits.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,10})(\.[0-9]{1,2})?$"
# The pydantic error type an amount refused by the pattern carries; the API's
# problem+json answers it as `invalid-amount`.
AMOUNT_ERROR = "invalid_amount"


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


def decimal_string(pattern: str, what: str, places: int, error: str, too_large: str) -> Any:
    """A BeforeValidator for a decimal that travels as a JSON string matching `pattern`:
    a JSON number, a sign, an exponent, spaces or leading zeros are all refused. One well
    written but with more digits before the point than `pattern` takes is refused as
    `too_large` says (the largest value), not as a malformed one."""
    compiled = re.compile(pattern)
    well_written = re.compile(rf"(0|[1-9][0-9]*)(\.[0-9]{{1,{places}}})?")
    example = "12.50"
    rule = f"digits with at most {places} decimal places, no sign, exponent, spaces or leading zeros"

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal) and value.is_finite():
            value = str(value)
        if not isinstance(value, str):
            raise PydanticCustomError(
                error,
                f'{what} must be a JSON string of {rule}, such as "{example}"; got a JSON {_json_kind(value)}',
            )
        if compiled.fullmatch(value) is None:
            shown = value if len(value) <= 40 else value[:40] + "..."
            if well_written.fullmatch(value) is not None:
                raise PydanticCustomError(error, f"{what} {shown!r} is refused: {too_large}")
            raise PydanticCustomError(
                error,
                f'{what} {shown!r} is refused: write {rule}, such as "{example}"',
            )
        return Decimal(value)

    return BeforeValidator(parse)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    return {type(None): "null", list: "array", dict: "object"}.get(type(value), type(value).__name__)


# An amount as the API receives it: a string of the pattern, then a decimal validated
# against the currency (a sibling field) with `to_minor`, which refuses zero and the maximum.
AmountIn = Annotated[
    Decimal,
    decimal_string(AMOUNT_PATTERN, "amount", 2, AMOUNT_ERROR, f"it exceeds the maximum of {format_minor(MAX_MINOR)}"),
    PlainSerializer(lambda d: str(d), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "maxLength": 14,
            "description": 'A JSON string: digits, no leading zeros ("0.50" yes, "001.00" no), at most two '
            "decimal places; no sign, exponent or spaces; numbers are refused",
            "examples": ["100.00"],
        }
    ),
]
