"""The insured person and the beneficiaries named at purchase: identity numbers checked
(GB 11643 check digit, a birth date giving the quoted age), shares summing to 100%."""

from __future__ import annotations

from datetime import date

import pytest

from services.insurance import domain

TODAY = date(2026, 11, 30)


def resident_id(born: str, seq: str = "123", area: str = "110105") -> str:
    first17 = area + born + seq
    return first17 + domain.resident_id_check(first17)


def insured(id_number: str, relationship: str = "self", id_type: str = "resident_id") -> domain.Person:
    return domain.Person("Li Wei", id_type, id_number, relationship)


def beneficiary(id_number: str, share: int, relationship: str = "spouse") -> domain.Person:
    return domain.Person("Wang Fang", "resident_id", id_number, relationship, share)


def test_the_check_character_follows_iso_7064_mod_11_2() -> None:
    # The standard's published example: 11010519491231002X.
    assert domain.resident_id_check("11010519491231002") == "X"
    assert resident_id("19900307") == "110105199003071239"


def test_a_resident_id_must_give_the_quoted_age() -> None:
    domain.check_insured(insured(resident_id("19960101")), 30, TODAY)
    domain.check_insured(insured(resident_id("19961130")), 30, TODAY)  # 30 today
    with pytest.raises(domain.InvalidPerson, match="age of 29; the quote was for 30"):
        domain.check_insured(insured(resident_id("19961201")), 30, TODAY)
    assert domain.age_of(insured(resident_id("19961201")), TODAY) == 29
    assert domain.age_of(insured("E12345678", id_type="passport"), TODAY) is None


@pytest.mark.parametrize(
    ("id_type", "number", "why"),
    [
        ("resident_id", "11010519900307123", "17 digits"),
        ("resident_id", "110105199003071238", "check digit"),
        ("resident_id", resident_id("19901345"), "birth date"),
        ("passport", "e12", "passport number"),
        ("driving_licence", "E12345678", "ID type"),
    ],
)
def test_a_bad_identity_is_refused_with_the_reason(id_type: str, number: str, why: str) -> None:
    with pytest.raises(domain.InvalidPerson, match=why):
        domain.check_insured(insured(number, id_type=id_type), 30, TODAY)


def test_the_insured_is_the_policyholder_or_family() -> None:
    domain.check_insured(insured("E12345678", "child", "passport"), 30, TODAY)
    with pytest.raises(domain.InvalidPerson, match="relationship"):
        domain.check_insured(insured("E12345678", "neighbour", "passport"), 30, TODAY)


def test_beneficiaries_shares_sum_to_one_hundred() -> None:
    a, b = resident_id("19930101", "001"), resident_id("20200101", "002")
    domain.check_beneficiaries([], None)
    domain.check_beneficiaries([beneficiary(a, 60), beneficiary(b, 40, "child")], None)
    with pytest.raises(domain.BeneficiaryShares, match="add up to 90%"):
        domain.check_beneficiaries([beneficiary(a, 60), beneficiary(b, 30, "child")], None)
    with pytest.raises(domain.InvalidPerson, match="named twice"):
        domain.check_beneficiaries([beneficiary(a, 50), beneficiary(a, 50)], None)
    me = insured(a)
    with pytest.raises(domain.InvalidPerson, match="their own beneficiary"):
        domain.check_beneficiaries([beneficiary(a, 100)], me)
    with pytest.raises(domain.BeneficiaryShares, match="at most 5"):
        domain.check_beneficiaries([beneficiary(resident_id("19930101", f"00{i}"), 10) for i in range(6)], None)


def test_an_id_number_is_shown_masked() -> None:
    assert domain.masked("110105199003071239") == "110***********1239"
    assert domain.masked("E12345678") == "E12**5678"
