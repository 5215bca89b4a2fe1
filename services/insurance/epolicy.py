"""The e-policy: a policy's document as a PDF (电子保单), drawn from the policy as the API
shows it (`PolicyPublic`) and its product. It is made afresh at each download, so it
always says what the policy says today (a cancellation included).

The sandbox draws with the PDF core font (Helvetica, Latin-1): a character outside it,
as a name in Chinese characters, is printed as `?`; the policy's JSON has the name as
written. Page content is left uncompressed, so a test (or a person) can find the policy
number in the bytes."""

from __future__ import annotations

from datetime import datetime

from services.insurance import domain
from shared.money import format_minor
from shared.schemas.insurance import PersonPublic, PolicyPublic

ISSUER = "Sandbank Insurance (sandbox)"
_ID_TYPES = {"resident_id": "Resident ID", "passport": "Passport"}


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _person(person: PersonPublic) -> str:
    id_type = _ID_TYPES.get(person.id_type, person.id_type)
    share = f", {person.share_pct}%" if person.share_pct is not None else ""
    return f"{person.name} ({id_type} {person.id_number}; {person.relationship}{share})"


def _day(value: object) -> str:
    return value.isoformat() if value is not None else "-"  # type: ignore[attr-defined]


def lines(policy: PolicyPublic, product: domain.Product) -> list[tuple[str, str]]:
    """What the e-policy says, as (label, value) rows."""
    insured = _person(policy.insured) if policy.insured else f"The policyholder (age {policy.insured_age})"
    beneficiaries = [_person(b) for b in policy.beneficiaries] or ["Legal heirs (none named)"]
    return [
        ("Policy number", policy.number),
        ("Product", f"{product.name} ({product.code})"),
        ("Status", policy.status),
        ("Policyholder", policy.customer_id),
        ("Insured person", insured),
        *(("Beneficiary" if i == 0 else "", b) for i, b in enumerate(beneficiaries)),
        ("Cover starts", _day(policy.starts_on)),
        ("Cover ends", _day(policy.ends_on)),
        ("Covered from (after waiting period)", _day(policy.covered_from)),
        ("Term", f"{policy.term_days} days"),
        ("Premium", f"{policy.premium} {policy.currency}"),
        ("Sum insured", f"{policy.sum_insured} {policy.currency}"),
        ("Deductible per claim", f"{format_minor(product.deductible_minor, policy.currency)} {policy.currency}"),
        (
            "Cooling-off period",
            f"{product.cooling_off_days} days after issue, until {_day(policy.cooling_off_until)}: "
            "cancelling refunds the whole premium",
        ),
        ("Issued", policy.issued_at.isoformat(timespec="seconds") if policy.issued_at else "not yet paid"),
    ]


def render(policy: PolicyPublic, product: domain.Product, *, now: datetime) -> bytes:
    """The e-policy as PDF bytes."""
    # Imported here: fpdf2 takes 0.4 s to import, which every start of the service would
    # pay for a document few customers ask for.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_compression(False)
    pdf.set_creation_date(now)
    pdf.set_title(f"Policy {policy.number}")
    pdf.set_author(ISSUER)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"{ISSUER}: electronic policy"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(
        0,
        6,
        _latin1(f"Policy {policy.number}, generated {now.isoformat(timespec='seconds')}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    for label, value in lines(policy, product):
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(62, 6, _latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    if product.exclusions:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, "Exclusions", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        for exclusion in product.exclusions:
            pdf.multi_cell(0, 5, _latin1(f"- {exclusion}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(0, 4, "A sandbox document: Sandbank is not an insurer and this policy covers nothing.")
    return bytes(pdf.output())
