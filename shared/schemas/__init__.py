"""The request and response bodies of the services' HTTP APIs, by service.

`Whole` is a whole number a client writes in a request body (shares, days, years, percent):
JSON's integer only. pydantic would otherwise take `true` as 1 and `"100"` or `100.0` as
100, so an app's bug (a flag where a count belongs) would place an order for one share.

`OneLine` and `Prose` are text a customer writes that others read (a payment's note, a
nickname, a name, a claim's description): no control or format characters, which would
forge lines in a receipt or a statement (a note of "rent\\nAmount 9999.00") or turn text
around (U+202E); `Prose` keeps line breaks and tabs.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Strict

Whole = Annotated[int, Strict()]


def plain_text(value: str, *, lines: bool = False) -> str:
    """`value` if it holds no control (Cc) or format (Cf) character (`lines`: but line
    breaks and tabs); else ValueError naming the first."""
    if value.isprintable():  # the usual case, in C: no Cc, Cf (nor separators but space)
        return value
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf") and not (lines and ch in "\n\t"):
            raise ValueError(f"the text holds a control or format character (U+{ord(ch):04X}): write plain text")
    return value


def _prose(value: str) -> str:
    return plain_text(value, lines=True)


OneLine = Annotated[str, AfterValidator(plain_text)]
Prose = Annotated[str, AfterValidator(_prose)]
