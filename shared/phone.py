"""Phone numbers as Sandbank stores them: mainland China mobiles in +86 form."""

from __future__ import annotations

import re

# ASCII digits only: `\d` takes any script's, and a number written in full-width digits
# (U+FF10 to U+FF19) would be a second customer's look-alike of a registered one.
_PHONE = re.compile(r"(?:\+?86)?(1[3-9][0-9]{9})")


def normalise_phone(value: str) -> str:
    """Accept a mainland China mobile number with or without +86, spaces or dashes."""
    digits = re.sub(r"[\s\-()]", "", value)
    match = _PHONE.fullmatch(digits)
    if not match:
        raise ValueError("phone must be a mainland China mobile number such as +8613812345678")
    return "+86" + match.group(1)
