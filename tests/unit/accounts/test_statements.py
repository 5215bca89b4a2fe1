"""Statement lines as the account holder reads them, recorded or derived for older lines."""

from __future__ import annotations

import pytest

from services.accounts.statements import line_view
from shared.schemas.statements import LineKind, ReferenceKind


def view(entry_kind: str, description: str, amount_minor: int, **recorded: str | None):
    return line_view(
        entry_kind=entry_kind,
        entry_reference="ref-1",
        entry_description=description,
        reference_kind=recorded.get("reference_kind"),
        reference_id=recorded.get("reference_id"),
        line_kind=recorded.get("line_kind"),
        line_description=recorded.get("line_description"),
        amount_minor=amount_minor,
    )


def test_a_recorded_line_reads_as_recorded() -> None:
    line = view(
        "capture",
        "Transfer to *i",
        500,
        line_kind="transfer_in",
        line_description="Transfer from *g",
        reference_kind="payment",
        reference_id="p-1",
    )

    assert (line.kind, line.description, line.reference_kind, line.reference_id) == (
        LineKind.TRANSFER_IN,
        "Transfer from *g",
        ReferenceKind.PAYMENT,
        "p-1",
    )


@pytest.mark.parametrize(
    ("entry_kind", "description", "amount_minor", "kind", "shown", "reference_kind"),
    [
        ("capture", "transfer to *i: lunch", -500, LineKind.TRANSFER_OUT, "Transfer to *i: lunch", "payment"),
        ("capture", "transfer to *i: lunch", 500, LineKind.TRANSFER_IN, "Transfer received", "payment"),
        ("capture", "bill to State Grid Electricity", -500, LineKind.BILL, "Bill: State Grid Electricity", "payment"),
        (
            "capture",
            "qr to Lanzhou Noodle House",
            -500,
            LineKind.QR_PAYMENT,
            "QR payment: Lanzhou Noodle House",
            "payment",
        ),
        (
            "capture",
            "topup to Mobile top-up +8613912345678",
            -500,
            LineKind.TOPUP,
            "Mobile top-up +8613912345678",
            "payment",
        ),
        ("credit", "Sandbox deposit", 500, LineKind.DEPOSIT, "Sandbox deposit", "deposit"),
        ("credit", "Opening balance", 500, LineKind.OPENING_BALANCE, "Opening balance", None),
        ("capture", "Buy 100 600519 @ 1700.000", -500, LineKind.SECURITIES_BUY, "Buy 100 600519 @ 1700.000", None),
        ("credit", "Sell 100 600519 @ 1700.000", 500, LineKind.SECURITIES_SELL, "Sell 100 600519 @ 1700.000", None),
        (
            "transfer",
            "Bank to securities transfer",
            -500,
            LineKind.SECURITIES_TRANSFER,
            "Bank to securities transfer",
            None,
        ),
        (
            "capture",
            "Insurance premium P-1 (Travel)",
            -500,
            LineKind.INSURANCE_PREMIUM,
            "Insurance premium P-1 (Travel)",
            None,
        ),
        (
            "credit",
            "Insurance claim C-1 payout",
            500,
            LineKind.INSURANCE_CLAIM_PAYOUT,
            "Insurance claim C-1 payout",
            None,
        ),
        ("transfer", "transfer", -500, LineKind.OTHER, "transfer", None),
    ],
)
def test_an_older_line_reads_sensibly(
    entry_kind: str, description: str, amount_minor: int, kind: LineKind, shown: str, reference_kind: str | None
) -> None:
    line = view(entry_kind, description, amount_minor)

    assert (line.kind, line.description) == (kind, shown)
    assert line.reference_kind == reference_kind
    assert line.reference_id == ("ref-1" if reference_kind else None)
