"""How a journal line reads on its account's statement.

A command since version 2 says each side's kind and description and the business object
behind the posting (shared/events/accounts.py `StatementText`), and the line keeps them.
Lines posted before carry only their entry's one description, the same on both sides
("transfer to *i"); `line_view` reads those as sensibly as their text allows.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.schemas.statements import LineKind, ReferenceKind


@dataclass(frozen=True)
class LineView:
    kind: LineKind
    description: str
    reference_kind: ReferenceKind | None
    reference_id: str | None


# payments' old descriptions: "<payment kind> to <payee label>[: note]".
_OLD_PAYMENTS = {
    "transfer": (LineKind.TRANSFER_OUT, "Transfer to {}"),
    "bill": (LineKind.BILL, "Bill: {}"),
    "qr": (LineKind.QR_PAYMENT, "QR payment: {}"),
    "topup": (LineKind.TOPUP, "{}"),
}
# Other senders' descriptions already read as a person would; their first words say the kind.
_OLD_PREFIXES = (
    ("Sandbox deposit", LineKind.DEPOSIT, ReferenceKind.DEPOSIT),
    ("Opening balance", LineKind.OPENING_BALANCE, None),
    ("Buy ", LineKind.SECURITIES_BUY, None),
    ("Sell ", LineKind.SECURITIES_SELL, None),
    ("Bank to securities", LineKind.SECURITIES_TRANSFER, None),
    ("Securities to bank", LineKind.SECURITIES_TRANSFER, None),
    ("Insurance premium", LineKind.INSURANCE_PREMIUM, None),
    ("Insurance claim", LineKind.INSURANCE_CLAIM_PAYOUT, None),
    ("Refund of", LineKind.INSURANCE_REFUND, None),
)


def line_view(
    *,
    entry_kind: str,
    entry_reference: str,
    entry_description: str,
    reference_kind: str | None,
    reference_id: str | None,
    line_kind: str | None,
    line_description: str | None,
    amount_minor: int,
) -> LineView:
    """The line as its account holder reads it: recorded, or derived for an older line."""
    if line_kind is not None:
        return LineView(
            LineKind(line_kind),
            line_description if line_description is not None else entry_description,
            ReferenceKind(reference_kind) if reference_kind else None,
            reference_id,
        )
    return _derived(entry_kind, entry_reference, entry_description, credited=amount_minor > 0)


def _derived(entry_kind: str, entry_reference: str, description: str, *, credited: bool) -> LineView:
    first, _, rest = description.partition(" to ")
    if entry_kind == "capture" and first in _OLD_PAYMENTS and rest:
        kind, text = _OLD_PAYMENTS[first]
        label, _, note = rest.partition(": ")
        if kind is LineKind.TRANSFER_OUT and credited:
            # The old line named the payee on both sides; the payee learns only that it came in.
            return LineView(LineKind.TRANSFER_IN, "Transfer received", ReferenceKind.PAYMENT, entry_reference)
        shown = text.format(label) + (f": {note}" if note else "")
        return LineView(kind, shown, ReferenceKind.PAYMENT, entry_reference)
    for prefix, kind, reference_kind in _OLD_PREFIXES:
        if description.startswith(prefix):
            reference_id = entry_reference if reference_kind is not None else None
            return LineView(kind, description, reference_kind, reference_id)
    return LineView(LineKind.OTHER, description, None, None)
