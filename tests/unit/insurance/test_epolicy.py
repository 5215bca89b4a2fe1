"""The e-policy PDF says what the policy says: its number, product, people, dates and
money; a name the core font cannot draw does not stop it."""

from __future__ import annotations

from datetime import UTC, datetime

from services.insurance import domain, epolicy
from shared.schemas.insurance import POLICY_EXAMPLE, PolicyPublic

NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def policy(**changes: object) -> PolicyPublic:
    return PolicyPublic.model_validate(POLICY_EXAMPLE | changes)


def test_the_pdf_carries_the_policy_number_product_dates_and_money() -> None:
    p = policy()
    product = domain.find_product(domain.CATALOGUE, p.product_code)

    content = epolicy.render(p, product, now=NOW)

    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    for fact in (p.number, product.name, p.premium, p.sum_insured, str(p.starts_on), str(p.ends_on)):
        assert fact.encode() in content, fact


def test_named_people_are_listed_and_chinese_characters_do_not_break_it() -> None:
    insured = {"name": "张伟", "id_type": "resident_id", "id_number": "110***********1234", "relationship": "child"}
    heir = {
        "name": "Li Na",
        "id_type": "passport",
        "id_number": "E12***678",
        "relationship": "parent",
        "share_pct": 100,
    }
    p = policy(insured=insured, beneficiaries=[heir])
    product = domain.find_product(domain.CATALOGUE, p.product_code)

    rows = dict(epolicy.lines(p, product))
    content = epolicy.render(p, product, now=NOW)

    assert rows["Insured person"] == "张伟 (Resident ID 110***********1234; child)"
    assert rows["Beneficiary"] == "Li Na (Passport E12***678; parent, 100%)"
    assert b"Li Na" in content and b"E12***678" in content  # PDF strings escape the parentheses
    assert f"{product.cooling_off_days} days after issue".encode() in content
