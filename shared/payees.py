"""Who a payment goes to, as payments and the gateway both name it, and the merchant QR format.

A payee key names where the money lands: `account:<account id>` for a transfer (a payee
given by phone is keyed by the account the phone resolves to), `biller:<code>:<reference>`
for a bill, `merchant:<merchant id>` for a QR payment, `mobile:<+86 phone>` for a top-up.
Payments' new-payee risk rule and the gateway's step-up both compare these keys, so they
must be spelled in one place. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from shared.money import AMOUNT_PATTERN, InvalidAmount, to_minor
from shared.schemas import plain_text

_AMOUNT = re.compile(AMOUNT_PATTERN)

QR_SCHEME, QR_HOST, QR_VERSION = "sandbank", "qr", "/v1"
QR_REFERENCE_MAX = 64


class MalformedQr(ValueError):
    """Not a Sandbank QR code, or one with a broken field; `detail` says which."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class QrPayload:
    merchant_id: str
    amount_minor: int | None
    reference: str


def parse_qr(payload: str) -> QrPayload:
    """`sandbank://qr/v1?m=<merchant id>&a=<amount, optional>&r=<merchant reference, optional>`."""
    try:
        parts = urlsplit(payload.strip())
    except ValueError:
        raise MalformedQr("the QR payload is not a Sandbank QR code") from None
    if parts.scheme != QR_SCHEME or parts.netloc != QR_HOST or parts.path != QR_VERSION:
        raise MalformedQr("the QR payload is not a Sandbank QR code (sandbank://qr/v1?m=...)")
    query = parse_qs(parts.query, keep_blank_values=False)
    if repeated := sorted(name for name, values in query.items() if len(values) > 1):
        # Which would count? An app that reads the first and a payment that took the last
        # would show one merchant or amount and pay another.
        raise MalformedQr(f"the QR payload names {', '.join(f'{n}=' for n in repeated)} more than once")
    merchant = (query.get("m") or [""])[0]
    if not merchant:
        raise MalformedQr("the QR payload names no merchant (m=)")
    amount: int | None = None
    if "a" in query:
        # The code's amount has the API's one shape: what a request may not send, a code may not carry.
        if _AMOUNT.fullmatch(query["a"][0]) is None:
            raise MalformedQr(
                f"the QR payload's amount {query['a'][0][:20]!r} is refused: digits with at most 2 decimal "
                "places, no sign, exponent or leading zeros, as in 12.50"
            )
        try:
            amount = to_minor(query["a"][0])
        except InvalidAmount as exc:
            raise MalformedQr(f"the QR payload's amount is invalid: {exc}") from None
    reference = (query.get("r") or [""])[0][:QR_REFERENCE_MAX]
    try:
        plain_text(merchant)
        plain_text(reference)
    except ValueError as exc:
        raise MalformedQr(f"the QR payload is refused: {exc}") from None
    return QrPayload(merchant, amount, reference)


def qr_payload(merchant_id: str, amount: str | None = None, reference: str | None = None) -> str:
    query = f"m={merchant_id}" + (f"&a={amount}" if amount else "") + (f"&r={reference}" if reference else "")
    return f"{QR_SCHEME}://{QR_HOST}{QR_VERSION}?{query}"


def account_payee(account_id: str) -> str:
    return f"account:{account_id}"


def biller_payee(biller_code: str, bill_reference: str) -> str:
    return f"biller:{biller_code}:{bill_reference}"


def merchant_payee(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


def mobile_payee(phone: str) -> str:
    """`phone` in the +86 form `shared.phone.normalise_phone` gives."""
    return f"mobile:{phone}"
