"""Who a policy covers and who receives its benefit: the insured person and the
beneficiaries named at purchase, each with a validated identity document.

A mainland resident identity card number (居民身份证号码, GB 11643-1999) has 18 characters:
a 6-digit area code, the birth date (YYYYMMDD), a 3-digit sequence and a check character
computed with ISO 7064 MOD 11-2. Its birth date must give the age the policy was quoted
for. Beneficiaries' shares are whole percentages that sum to 100; naming none leaves the
benefit to the insured's legal heirs (法定受益人)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.insurance.domain.errors import BeneficiaryShares, InvalidPerson

ID_TYPES = ("resident_id", "passport")
# The insured's relation to the policyholder, and a beneficiary's to the insured.
INSURED_RELATIONSHIPS = ("self", "spouse", "child", "parent")
BENEFICIARY_RELATIONSHIPS = ("spouse", "child", "parent", "sibling", "other")
MAX_BENEFICIARIES = 5

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,17}$")


@dataclass(frozen=True)
class Person:
    name: str
    id_type: str
    id_number: str
    relationship: str
    share_pct: int | None = None  # beneficiaries only

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Person:
        return cls(**data)


def resident_id_check(first17: str) -> str:
    """The check character of a resident identity number (ISO 7064 MOD 11-2)."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_of(person: Person | None, today: date) -> int | None:
    """The insured's age today from a resident ID number (None without one)."""
    if person is None or person.id_type != "resident_id":
        return None
    return age_on(birth_date(person.id_number), today)


def check_identity(who: str, id_type: str, id_number: str) -> None:
    if id_type == "resident_id":
        if not _RESIDENT_ID.fullmatch(id_number):
            raise InvalidPerson(f"{who}: a resident ID number has 17 digits and a check digit or X")
        if resident_id_check(id_number[:17]) != id_number[17]:
            raise InvalidPerson(f"{who}: the resident ID number's check digit is wrong")
        try:
            birth_date(id_number)
        except ValueError:
            raise InvalidPerson(f"{who}: the resident ID number holds no valid birth date") from None
    elif id_type == "passport":
        if not _PASSPORT.fullmatch(id_number):
            raise InvalidPerson(f"{who}: a passport number has 5 to 17 capital letters and digits")
    else:
        raise InvalidPerson(f"{who}: the ID type must be one of {', '.join(ID_TYPES)}")


def check_insured(person: Person, quoted_age: int, today: date) -> None:
    """The insured person's identity is valid and, for a resident ID, its birth date gives
    the age the policy was quoted for."""
    if person.relationship not in INSURED_RELATIONSHIPS:
        raise InvalidPerson(f"insured: the relationship must be one of {', '.join(INSURED_RELATIONSHIPS)}")
    check_identity("insured", person.id_type, person.id_number)
    if person.id_type == "resident_id":
        age = age_on(birth_date(person.id_number), today)
        if age != quoted_age:
            raise InvalidPerson(f"insured: the ID number gives an age of {age}; the quote was for {quoted_age}")


def check_beneficiaries(beneficiaries: Sequence[Person], insured: Person | None) -> None:
    """At most five, each identified, none the insured person, shares summing to 100%."""
    if not beneficiaries:
        return
    if len(beneficiaries) > MAX_BENEFICIARIES:
        raise BeneficiaryShares(f"at most {MAX_BENEFICIARIES} beneficiaries can be named")
    for i, b in enumerate(beneficiaries, start=1):
        who = f"beneficiary {i}"
        if b.relationship not in BENEFICIARY_RELATIONSHIPS:
            raise InvalidPerson(f"{who}: the relationship must be one of {', '.join(BENEFICIARY_RELATIONSHIPS)}")
        check_identity(who, b.id_type, b.id_number)
        if insured is not None and (b.id_type, b.id_number) == (insured.id_type, insured.id_number):
            raise InvalidPerson(f"{who} is the insured person, who cannot be their own beneficiary")
        if b.share_pct is None or not 1 <= b.share_pct <= 100:
            raise BeneficiaryShares(f"{who}: a share is a whole percentage from 1 to 100")
    ids = [(b.id_type, b.id_number) for b in beneficiaries]
    if len(set(ids)) != len(ids):
        raise InvalidPerson("a beneficiary is named twice")
    total = sum(b.share_pct or 0 for b in beneficiaries)
    if total != 100:
        raise BeneficiaryShares(f"the beneficiaries' shares add up to {total}%, not 100%")


def masked(id_number: str) -> str:
    """An ID number as the app shows it: the first 3 and last 4 characters."""
    return id_number[:3] + "*" * max(len(id_number) - 7, 0) + id_number[-4:]
