"""Products and their premium rules, quotes and policy dates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from services.insurance.domain.errors import (
    AgeOutOfRange,
    QuoteExpired,
    SumInsuredOutOfRange,
    TermNotOffered,
    UnknownProduct,
    UnsuitableAccount,
)
from shared.money import format_minor

CURRENCY = "CNY"
QUOTE_TTL = timedelta(minutes=15)
PPM = 1_000_000  # annual rates are parts per million of the sum insured
PERCENT = 100


# --- products and premiums ----------------------------------------------------------------


@dataclass(frozen=True)
class AgeBand:
    """Insured ages `min_age`..`max_age` (inclusive) pay `annual_rate_ppm` of the sum insured a year."""

    min_age: int
    max_age: int
    annual_rate_ppm: int


@dataclass(frozen=True)
class Term:
    """A term on offer and its short-term factor: the percentage of the annual premium it costs."""

    days: int
    factor_pct: int


@dataclass(frozen=True)
class ClaimKind:
    code: str
    name: str
    required_documents: tuple[str, ...]


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    description: str
    prefix: str  # of policy numbers
    age_bands: tuple[AgeBand, ...]
    terms: tuple[Term, ...]
    sum_insured_min_minor: int
    sum_insured_max_minor: int
    sum_insured_step_minor: int
    min_premium_minor: int
    waiting_days: int
    exclusions: tuple[str, ...]
    claim_kinds: tuple[ClaimKind, ...]
    currency: str = CURRENCY
    version: int = 1
    # Days after the policy is issued in which cancelling refunds the whole premium (犹豫期);
    # see docs/insurance.md for each product's choice and the regulator's rule.
    cooling_off_days: int = 15
    # Taken from every approved claim's amount before it is paid (免赔额, per claim).
    deductible_minor: int = 0

    @property
    def min_age(self) -> int:
        return min(b.min_age for b in self.age_bands)

    @property
    def max_age(self) -> int:
        return max(b.max_age for b in self.age_bands)

    def band_for(self, age: int) -> AgeBand:
        for band in self.age_bands:
            if band.min_age <= age <= band.max_age:
                return band
        raise AgeOutOfRange(f"{self.name} covers ages {self.min_age} to {self.max_age}; {age} is outside")

    def term(self, days: int) -> Term:
        for term in self.terms:
            if term.days == days:
                return term
        offered = ", ".join(str(t.days) for t in self.terms)
        raise TermNotOffered(f"{self.name} is sold for terms of {offered} days, not {days}")

    def check_sum_insured(self, amount_minor: int) -> None:
        low, high, step = self.sum_insured_min_minor, self.sum_insured_max_minor, self.sum_insured_step_minor
        if not low <= amount_minor <= high or amount_minor % step:
            raise SumInsuredOutOfRange(
                f"{self.name} insures {format_minor(low)} to {format_minor(high)} {self.currency} "
                f"in steps of {format_minor(step)}; {format_minor(amount_minor)} is not on offer"
            )

    def claim_kind(self, code: str) -> ClaimKind | None:
        return next((k for k in self.claim_kinds if k.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, as the product table keeps it."""
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "prefix": self.prefix,
            "age_bands": [[b.min_age, b.max_age, b.annual_rate_ppm] for b in self.age_bands],
            "terms": [[t.days, t.factor_pct] for t in self.terms],
            "sum_insured_min_minor": self.sum_insured_min_minor,
            "sum_insured_max_minor": self.sum_insured_max_minor,
            "sum_insured_step_minor": self.sum_insured_step_minor,
            "min_premium_minor": self.min_premium_minor,
            "waiting_days": self.waiting_days,
            "exclusions": list(self.exclusions),
            "claim_kinds": [[k.code, k.name, list(k.required_documents)] for k in self.claim_kinds],
            "currency": self.currency,
            "version": self.version,
            "cooling_off_days": self.cooling_off_days,
            "deductible_minor": self.deductible_minor,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Product:
        return cls(
            code=data["code"],
            name=data["name"],
            description=data["description"],
            prefix=data["prefix"],
            age_bands=tuple(AgeBand(*b) for b in data["age_bands"]),
            terms=tuple(Term(*t) for t in data["terms"]),
            sum_insured_min_minor=data["sum_insured_min_minor"],
            sum_insured_max_minor=data["sum_insured_max_minor"],
            sum_insured_step_minor=data["sum_insured_step_minor"],
            min_premium_minor=data["min_premium_minor"],
            waiting_days=data["waiting_days"],
            exclusions=tuple(data["exclusions"]),
            claim_kinds=tuple(ClaimKind(c, n, tuple(d)) for c, n, d in data["claim_kinds"]),
            currency=data.get("currency", CURRENCY),
            version=data.get("version", 1),
            cooling_off_days=data.get("cooling_off_days", 15),
            deductible_minor=data.get("deductible_minor", 0),
        )


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero
    (both non-negative here)."""
    return (2 * numerator + denominator) // (2 * denominator)


def premium_minor(product: Product, age: int, term_days: int, sum_insured_minor: int) -> int:
    """The premium in fen.

    premium = sum insured x annual rate of the age band (ppm) x term factor (%), computed
    exactly in integers and rounded once, half up, to the fen; never below the product's
    minimum premium. The term factors follow the short-term rate tables Chinese insurers
    file for policies under a year (e.g. 3 months cost 40% of the annual premium)."""
    band = product.band_for(age)
    term = product.term(term_days)
    product.check_sum_insured(sum_insured_minor)
    exact = sum_insured_minor * band.annual_rate_ppm * term.factor_pct
    return max(round_half_up(exact, PPM * PERCENT), product.min_premium_minor)


_PA_DOCS = ("accident_report", "medical_invoice")

CATALOGUE: tuple[Product, ...] = (
    Product(
        code="personal_accident",
        name="Personal accident",
        description="Accidental injury and disability, worldwide, from the day it starts.",
        prefix="PA",
        age_bands=(AgeBand(18, 40, 600), AgeBand(41, 55, 900), AgeBand(56, 65, 1_500)),
        terms=(Term(30, 15), Term(90, 40), Term(180, 70), Term(365, 100)),
        sum_insured_min_minor=10_000_00,
        sum_insured_max_minor=1_000_000_00,
        sum_insured_step_minor=10_000_00,
        min_premium_minor=5_00,
        waiting_days=0,
        exclusions=("self_inflicted", "intoxication", "extreme_sports", "war"),
        claim_kinds=(
            ClaimKind("accidental_injury", "Accidental injury (medical costs)", _PA_DOCS),
            ClaimKind(
                "accidental_disability", "Disability after an accident", ("accident_report", "disability_assessment")
            ),
        ),
    ),
    Product(
        code="short_term_health",
        name="Short-term health",
        description="Hospital and outpatient costs in mainland China, after a 30-day waiting period.",
        prefix="HL",
        age_bands=(AgeBand(0, 17, 2_000), AgeBand(18, 40, 3_000), AgeBand(41, 50, 6_000), AgeBand(51, 60, 12_000)),
        terms=(Term(180, 70), Term(365, 100)),
        sum_insured_min_minor=10_000_00,
        sum_insured_max_minor=500_000_00,
        sum_insured_step_minor=10_000_00,
        min_premium_minor=20_00,
        waiting_days=30,
        exclusions=("pre_existing_condition", "cosmetic_treatment", "self_inflicted"),
        claim_kinds=(
            ClaimKind("hospitalisation", "Hospital stay", ("discharge_summary", "medical_invoice")),
            ClaimKind("outpatient", "Outpatient treatment", ("medical_invoice",)),
        ),
        deductible_minor=100_00,
    ),
    Product(
        code="travel",
        name="Travel",
        description="Trip cancellation, lost baggage and medical costs abroad for one trip.",
        prefix="TR",
        age_bands=(AgeBand(0, 17, 3_000), AgeBand(18, 60, 4_000), AgeBand(61, 80, 10_000)),
        terms=(Term(7, 5), Term(15, 8), Term(30, 12), Term(90, 30)),
        sum_insured_min_minor=50_000_00,
        sum_insured_max_minor=1_000_000_00,
        sum_insured_step_minor=50_000_00,
        min_premium_minor=10_00,
        waiting_days=0,
        exclusions=("war", "known_event_before_purchase", "unattended_baggage"),
        claim_kinds=(
            ClaimKind("trip_cancellation", "Trip cancelled", ("booking_confirmation", "cancellation_proof")),
            ClaimKind("baggage_loss", "Baggage lost or delayed", ("carrier_report", "receipt")),
            ClaimKind("medical_abroad", "Medical costs abroad", ("medical_invoice", "travel_itinerary")),
        ),
        # A trip's cover is cancelled free of charge only before it starts.
        cooling_off_days=0,
    ),
    Product(
        code="phone_screen",
        name="Phone screen cover",
        description="A cracked or broken phone screen repaired, after a 14-day waiting period.",
        prefix="PS",
        age_bands=(AgeBand(16, 99, 120_000),),
        terms=(Term(180, 60), Term(365, 100)),
        sum_insured_min_minor=500_00,
        sum_insured_max_minor=5_000_00,
        sum_insured_step_minor=100_00,
        min_premium_minor=10_00,
        waiting_days=14,
        exclusions=("intentional_damage", "cosmetic_scratch", "unauthorised_repair"),
        claim_kinds=(ClaimKind("screen_damage", "Screen damaged", ("device_photo", "repair_quote")),),
        cooling_off_days=7,
        deductible_minor=100_00,
    ),
)

DOCUMENT_KINDS: frozenset[str] = frozenset(
    doc for p in CATALOGUE for k in p.claim_kinds for doc in k.required_documents
) | {"other"}


def find_product(products: Iterable[Product], code: str) -> Product:
    for product in products:
        if product.code == code:
            return product
    raise UnknownProduct(f"there is no product {code!r}")


# --- quotes and policies ---------------------------------------------------------------------


def quote_expires_at(issued_at: datetime) -> datetime:
    return issued_at + QUOTE_TTL


def check_quote_live(expires_at: datetime, now: datetime) -> None:
    if now >= expires_at:
        raise QuoteExpired(f"the quote expired at {expires_at.isoformat()}; ask for a new one")


@dataclass(frozen=True)
class Coverage:
    starts_on: date
    ends_on: date  # the last day covered (inclusive)
    covered_from: date  # the first day an incident is covered, after the waiting period


def coverage(issued_on: date, term_days: int, waiting_days: int) -> Coverage:
    """A policy covers `term_days` days from the (bank) day its premium is paid; incidents
    during the first `waiting_days` of them are not covered."""
    return Coverage(
        starts_on=issued_on,
        ends_on=issued_on + timedelta(days=term_days - 1),
        covered_from=issued_on + timedelta(days=waiting_days),
    )


PAYING_ACCOUNT_KINDS = ("checking", "savings")


def check_paying_account(kind: str, currency: str, premium_currency: str) -> None:
    """Premiums are paid from a checking or savings account in the premium's currency."""
    if kind not in PAYING_ACCOUNT_KINDS:
        raise UnsuitableAccount(f"premiums are paid from a checking or savings account, not a {kind} account")
    if currency != premium_currency:
        raise UnsuitableAccount(f"the account holds {currency}; the premium is in {premium_currency}")


def check_payout_account(kind: str, currency: str) -> None:
    """Claims are paid only into the customer's bank accounts (checking or savings), never
    into a securities cash account."""
    if kind not in PAYING_ACCOUNT_KINDS:
        raise UnsuitableAccount(f"claims are paid into a checking or savings account, not a {kind} account")
    if currency != CURRENCY:
        raise UnsuitableAccount(f"the account holds {currency}; claims are paid in {CURRENCY}")


class PolicyStatus(StrEnum):
    PENDING = "pending"  # the premium is being collected, or paid and the cover not started yet
    ACTIVE = "active"  # paid and in cover today
    EXPIRED = "expired"  # past its last day of cover
    LAPSED = "lapsed"  # expired and not renewed within the renewal grace period
    CANCELLED = "cancelled"  # cancelled by the customer (premium refunded in full or pro rata)
    FAILED = "failed"  # the premium was not collected: no cover
