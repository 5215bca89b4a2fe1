"""The KYC upgrade's rules as plain code: the resident ID number's checks and how the
sandbox decides an application.

A mainland resident identity card number (GB 11643-1999) is 18 characters: a six-digit
region code, the holder's birth date (YYYYMMDD), a three-digit sequence and a check
character, the ISO 7064 MOD 11-2 checksum of the first seventeen digits ("X" for 10)."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.errors import DomainError

# ISO 7064 MOD 11-2: the weight of digit i is 2^(17 - i) mod 11; the check character
# for a weighted sum s is CHECK_CHARACTERS[s % 11].
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
OLDEST_AGE_YEARS = 120
# Sandbox: a face match scoring at least this is approved without an officer.
AUTO_APPROVE_SCORE = 0.9

# Sandbox: this (valid) number is always refused, so a test can force a refusal.
MAGIC_REFUSED_ID = "110101199003079999"


class InvalidIdNumber(DomainError):
    code = "invalid-id-number"


class KycNotAllowed(DomainError):
    code = "kyc-not-allowed"


class ApplicationPending(DomainError):
    code = "kyc-application-pending"


class ApplicationDecided(DomainError):
    code = "kyc-application-decided"


class IdNumberInUse(DomainError):
    """One resident ID number vouches for one customer: it already lifted another."""

    code = "id-number-in-use"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


def check_character(first17: str) -> str:
    return CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class IdNumber:
    number: str
    born_on: date

    @property
    def masked(self) -> str:
        """As an operator's queue shows it: region and check tail only."""
        return f"{self.number[:6]}********{self.number[-4:]}"

    def digest(self, key: bytes) -> str:
        """HMAC-SHA256 of the number under `key`, hex: what accounts keeps to tell whether a
        number is already bound to a customer, without keeping the number. A plain hash of
        so small a space (region, birth date, sequence) would be reversed by enumeration."""
        return hmac.new(key, self.number.encode(), hashlib.sha256).hexdigest()


def check_id_number(raw: str, today: date) -> IdNumber:
    """An 18-character resident ID number, its checksum right and its birth date a real
    day no later than today and no more than OLDEST_AGE_YEARS ago; InvalidIdNumber else."""
    number = raw.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber(f"a resident ID number has 18 characters, not {len(number)}")
    if not number[:17].isascii() or not number[:17].isdigit() or number[17] not in "0123456789X":
        raise InvalidIdNumber("a resident ID number is 17 digits and a check digit or X")
    if number[0] == "0":
        raise InvalidIdNumber("the region code of the ID number is not valid")
    try:
        born_on = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("the birth date in the ID number is not a real day") from None
    if born_on > today or today.year - born_on.year > OLDEST_AGE_YEARS:
        raise InvalidIdNumber("the birth date in the ID number is not plausible")
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("the ID number's check character is wrong")
    return IdNumber(number, born_on)


@dataclass(frozen=True)
class Decision:
    status: Status
    reason: str


def normalised_name(name: str) -> str:
    """A name as compared: NFKC (full-width letters and the ideographic space become their
    plain forms), case folded, without any spaces."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def same_name(legal_name: str, registered_name: str) -> bool:
    return normalised_name(legal_name) == normalised_name(registered_name)


def decide(id_number: IdNumber, face_match_score: float, threshold: float, *, name_matches: bool = True) -> Decision:
    """The sandbox's automatic decision: the magic number is refused; a legal name that is
    not the customer's registered name waits for a compliance officer whatever the face
    match; otherwise a face match at or above `threshold` is approved and anything lower
    waits for an officer."""
    if id_number.number == MAGIC_REFUSED_ID:
        return Decision(Status.REFUSED, "sandbox_magic_id")
    if not name_matches:
        return Decision(Status.PENDING, "legal_name_mismatch")
    if face_match_score >= threshold:
        return Decision(Status.APPROVED, "face_match")
    return Decision(Status.PENDING, "face_match_below_threshold")


def check_can_apply(kyc_class: str, pending: bool) -> None:
    if kyc_class == "I":
        raise KycNotAllowed("the customer is already class I")
    if pending:
        raise ApplicationPending("an upgrade application is already waiting for a decision")


def check_id_number_free(bound_to: str | None, customer_id: str) -> None:
    """IdNumberInUse if the number already vouches for a customer other than `customer_id`."""
    if bound_to is not None and bound_to != customer_id:
        raise IdNumberInUse("this ID number already vouches for another customer's KYC class")
