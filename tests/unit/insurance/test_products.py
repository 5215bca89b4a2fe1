"""Products and premium rules: age bands, terms, sums insured, rounding, quotes, cover dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.insurance.domain import (
    CATALOGUE,
    DOCUMENT_KINDS,
    QUOTE_TTL,
    AgeBand,
    AgeOutOfRange,
    Product,
    QuoteExpired,
    SumInsuredOutOfRange,
    Term,
    TermNotOffered,
    UnknownProduct,
    UnsuitableAccount,
    check_paying_account,
    check_quote_live,
    coverage,
    find_product,
    premium_minor,
    quote_expires_at,
    round_half_up,
)

PRODUCTS = {p.code: p for p in CATALOGUE}
PA, HEALTH, TRAVEL, SCREEN = (PRODUCTS[c] for c in ("personal_accident", "short_term_health", "travel", "phone_screen"))


def test_the_catalogue_sells_the_four_products() -> None:
    assert set(PRODUCTS) == {"personal_accident", "short_term_health", "travel", "phone_screen"}


@pytest.mark.parametrize("product", CATALOGUE, ids=lambda p: p.code)
def test_every_product_is_complete_and_survives_the_database(product: Product) -> None:
    assert product.exclusions and product.claim_kinds and product.terms and product.age_bands
    assert all(set(k.required_documents) <= DOCUMENT_KINDS for k in product.claim_kinds)
    assert product.sum_insured_min_minor % product.sum_insured_step_minor == 0
    assert Product.from_dict(product.to_dict()) == product


@pytest.mark.parametrize(
    ("product", "age", "term_days", "sum_insured_minor", "expected_minor"),
    [
        # 100,000.00 x 600 ppm x 100% = 60.00
        (PA, 30, 365, 100_000_00, 60_00),
        # the 41-55 band: 100,000.00 x 900 ppm x 40% (90 days) = 36.00
        (PA, 41, 90, 100_000_00, 36_00),
        (PA, 65, 30, 1_000_000_00, 225_00),
        # 100,000.00 x 6,000 ppm x 70% (180 days) = 420.00
        (HEALTH, 45, 180, 100_000_00, 420_00),
        (HEALTH, 5, 365, 10_000_00, 20_00),
        # 300,000.00 x 4,000 ppm x 5% (7 days) = 60.00
        (TRAVEL, 30, 7, 300_000_00, 60_00),
        (TRAVEL, 70, 90, 50_000_00, 150_00),
        # 3,000.00 x 120,000 ppm x 60% (180 days) = 216.00
        (SCREEN, 30, 180, 3_000_00, 216_00),
        (SCREEN, 99, 365, 5_000_00, 600_00),
    ],
)
def test_premium_is_sum_insured_times_band_rate_times_term_factor(
    product: Product, age: int, term_days: int, sum_insured_minor: int, expected_minor: int
) -> None:
    assert premium_minor(product, age, term_days, sum_insured_minor) == expected_minor


@pytest.mark.parametrize(
    ("product", "age", "band_rate"),
    [
        *[(PA, 18, 600), (PA, 40, 600), (PA, 41, 900), (PA, 55, 900), (PA, 56, 1_500), (PA, 65, 1_500)],
        *[(HEALTH, 0, 2_000), (HEALTH, 17, 2_000), (HEALTH, 18, 3_000), (HEALTH, 50, 6_000), (HEALTH, 51, 12_000)],
    ],
)
def test_age_band_edges_belong_to_the_band_that_names_them(product: Product, age: int, band_rate: int) -> None:
    assert product.band_for(age).annual_rate_ppm == band_rate


@pytest.mark.parametrize(
    ("product", "age"),
    [(PA, 17), (PA, 66), (HEALTH, -1), (HEALTH, 61), (TRAVEL, 81), (SCREEN, 15), (SCREEN, 100)],
)
def test_an_age_outside_every_band_is_refused(product: Product, age: int) -> None:
    with pytest.raises(AgeOutOfRange, match=f"{age} is outside"):
        premium_minor(product, age, product.terms[0].days, product.sum_insured_min_minor)


@pytest.mark.parametrize(("product", "term_days"), [(PA, 31), (HEALTH, 90), (TRAVEL, 365), (SCREEN, 0)])
def test_a_term_not_on_offer_is_refused(product: Product, term_days: int) -> None:
    with pytest.raises(TermNotOffered):
        premium_minor(product, 30, term_days, product.sum_insured_min_minor)


@pytest.mark.parametrize(
    ("product", "sum_insured_minor"),
    [
        (PA, 9_999_99),  # below the minimum
        (PA, 1_000_010_00),  # above the maximum
        (PA, 15_000_00),  # off the 10,000.00 step
        (SCREEN, 5_100_00),
        (SCREEN, 550_00),
        (TRAVEL, 0),
    ],
)
def test_a_sum_insured_not_on_offer_is_refused(product: Product, sum_insured_minor: int) -> None:
    with pytest.raises(SumInsuredOutOfRange):
        premium_minor(product, 30, product.terms[0].days, sum_insured_minor)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(0, 7, 0), (149, 100, 1), (150, 100, 2), (151, 100, 2), (249, 100, 2), (250, 100, 3), (10, 5, 2)],
)
def test_rounding_is_half_up_to_the_fen(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up(numerator, denominator) == expected


# A product whose rate makes fractions of a fen: 1,000.00 x 333 ppm x 15% = 4.995 fen.
ODD = replace(
    PA,
    code="odd",
    age_bands=(AgeBand(18, 99, 333),),
    terms=(Term(30, 15), Term(365, 100)),
    sum_insured_min_minor=100_00,
    sum_insured_step_minor=1,
    min_premium_minor=1,
)


@pytest.mark.parametrize(
    ("term_days", "sum_insured_minor", "expected_minor"),
    [
        (365, 5_000_00, 167),  # 166.5 fen exactly: half up
        (30, 100_000_00, 500),  # 499.5 fen exactly: half up
        (30, 1_000_00, 5),  # 4.995 fen
        (30, 1_010_00, 5),  # 5.04495 fen
        (365, 1_502_00, 50),  # 50.0166 fen
        (365, 3_003_00, 100),  # 99.9999 fen
    ],
)
def test_the_exact_premium_is_rounded_once_half_up_to_the_fen(
    term_days: int, sum_insured_minor: int, expected_minor: int
) -> None:
    assert premium_minor(ODD, 30, term_days, sum_insured_minor) == expected_minor


def test_the_minimum_premium_applies_to_small_covers() -> None:
    assert premium_minor(PA, 30, 30, 10_000_00) == PA.min_premium_minor  # 0.90 by the rate, 5.00 minimum
    assert premium_minor(replace(ODD, min_premium_minor=10), 30, 30, 1_000_00) == 10


@given(
    sum_insured=st.integers(min_value=100_00, max_value=PA.sum_insured_max_minor),
    term=st.sampled_from(ODD.terms),
)
def test_the_premium_is_within_half_a_fen_of_the_exact_price(sum_insured: int, term: Term) -> None:
    exact = Fraction(sum_insured * 333 * term.factor_pct, 100_000_000)
    premium = premium_minor(ODD, 30, term.days, sum_insured)
    assert abs(premium - exact) <= Fraction(1, 2) or premium == ODD.min_premium_minor


@given(
    product=st.sampled_from(CATALOGUE),
    steps=st.integers(min_value=0, max_value=50),
    more=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_more_cover_or_a_longer_term_never_costs_less(product: Product, steps: int, more: int, data) -> None:  # type: ignore[no-untyped-def]
    band = data.draw(st.sampled_from(product.age_bands))
    age = data.draw(st.integers(band.min_age, band.max_age))
    low = min(product.sum_insured_min_minor + steps * product.sum_insured_step_minor, product.sum_insured_max_minor)
    high = min(low + more * product.sum_insured_step_minor, product.sum_insured_max_minor)
    short, long = sorted(
        data.draw(st.lists(st.sampled_from(product.terms), min_size=2, max_size=2)), key=lambda t: t.days
    )
    assert premium_minor(product, age, short.days, low) <= premium_minor(product, age, short.days, high)
    assert premium_minor(product, age, short.days, low) <= premium_minor(product, age, long.days, low)


def test_an_unknown_product_is_not_found() -> None:
    with pytest.raises(UnknownProduct):
        find_product(CATALOGUE, "pet_insurance")
    assert find_product(CATALOGUE, "travel") is TRAVEL


def test_a_quote_holds_for_fifteen_minutes_and_not_a_moment_longer() -> None:
    issued = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    expires = quote_expires_at(issued)
    assert expires - issued == QUOTE_TTL == timedelta(minutes=15)
    check_quote_live(expires, expires - timedelta(microseconds=1))
    with pytest.raises(QuoteExpired):
        check_quote_live(expires, expires)


def test_cover_runs_term_days_from_the_issue_day_and_waiting_days_later_for_incidents() -> None:
    cover = coverage(date(2025, 1, 31), term_days=30, waiting_days=14)
    assert (cover.starts_on, cover.ends_on, cover.covered_from) == (
        date(2025, 1, 31),
        date(2025, 3, 1),
        date(2025, 2, 14),
    )
    assert coverage(date(2025, 1, 1), 365, 0).covered_from == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("kind", "currency", "ok"),
    [
        ("checking", "CNY", True),
        ("savings", "CNY", True),
        ("securities_cash", "CNY", False),
        ("checking", "USD", False),
    ],
)
def test_premiums_are_paid_from_checking_or_savings_in_the_premium_currency(kind: str, currency: str, ok: bool) -> None:
    if ok:
        check_paying_account(kind, currency, "CNY")
    else:
        with pytest.raises(UnsuitableAccount):
            check_paying_account(kind, currency, "CNY")
