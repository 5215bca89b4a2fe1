"""A policy's life on the sandbox clock: its status from its dates, a chosen start of
cover, what a cancellation refunds (whole in the cooling-off period, pro rata later), the
renewal window, and claims refused when the incident lies outside the cover."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.insurance import domain

P = domain.PolicyStatus
START = date(2026, 3, 1)
END = date(2027, 2, 28)  # 365 days of cover
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("today", "renewed", "status"),
    [
        (START - D, False, P.PENDING),
        (START, False, P.ACTIVE),
        (END, False, P.ACTIVE),
        (END + D, False, P.EXPIRED),
        (END + domain.RENEWAL_GRACE, False, P.EXPIRED),
        (END + domain.RENEWAL_GRACE + D, False, P.LAPSED),
        (END + domain.RENEWAL_GRACE + D, True, P.EXPIRED),
    ],
)
def test_a_paid_policy_reads_its_status_from_its_dates(today: date, renewed: bool, status: P) -> None:
    assert domain.status_on(P.ACTIVE, START, END, renewed, today) == status


@pytest.mark.parametrize("stored", [P.PENDING, P.FAILED, P.CANCELLED])
def test_unpaid_and_cancelled_policies_keep_their_status(stored: P) -> None:
    assert domain.status_on(stored, START, END, False, END + 100 * D) == stored


def test_a_lapsed_policy_stays_lapsed() -> None:
    assert domain.status_on(P.LAPSED, START, END, False, END + D) == P.LAPSED


def test_a_start_date_lies_between_today_and_ninety_days_ahead() -> None:
    domain.check_start_date(None, START)
    domain.check_start_date(START, START)
    domain.check_start_date(START + domain.MAX_START_AHEAD, START)
    with pytest.raises(domain.InvalidStartDate, match="past"):
        domain.check_start_date(START - D, START)
    with pytest.raises(domain.InvalidStartDate, match="90 days"):
        domain.check_start_date(START + domain.MAX_START_AHEAD + D, START)


def test_cover_starts_on_the_later_of_the_chosen_day_and_the_day_paid() -> None:
    assert domain.start_of_cover(None, START) == START
    assert domain.start_of_cover(START + 7 * D, START) == START + 7 * D
    assert domain.start_of_cover(START - D, START) == START  # the clock passed it before payment


def test_an_incident_outside_the_cover_is_refused_with_the_dates() -> None:
    domain.check_incident_in_cover(P.ACTIVE, START, END, START)
    domain.check_incident_in_cover(P.EXPIRED, START, END, END)  # an expired policy answers for its cover
    with pytest.raises(domain.IncidentOutsideCover, match=r"2026-02-28 is outside the cover.*2026-03-01 to 2027-02-28"):
        domain.check_incident_in_cover(P.ACTIVE, START, END, START - D)
    with pytest.raises(domain.IncidentOutsideCover):
        domain.check_incident_in_cover(P.ACTIVE, START, END, END + D)
    with pytest.raises(domain.PolicyNotActive):
        domain.check_incident_in_cover(P.CANCELLED, START, END, START)


def refund(today: date, cooling_off_days: int = 15, issued_on: date = START) -> domain.Refund:
    return domain.cancellation_refund(
        premium_minor=365_00,
        issued_on=issued_on,
        starts_on=START,
        ends_on=END,
        cooling_off_days=cooling_off_days,
        today=today,
    )


def test_cancelling_before_the_cover_starts_refunds_the_whole_premium() -> None:
    r = refund(START - D, cooling_off_days=0, issued_on=START - 5 * D)
    assert (r.amount_minor, r.basis) == (365_00, domain.RefundBasis.BEFORE_START)


def test_cancelling_in_the_cooling_off_period_refunds_the_whole_premium() -> None:
    last = refund(START + 15 * D)
    assert (last.amount_minor, last.basis, last.cooling_off_until) == (
        365_00,
        domain.RefundBasis.COOLING_OFF,
        START + 15 * D,
    )


def test_later_the_unexpired_days_are_refunded_pro_rata_rounded_down() -> None:
    # The 17th day of cover (today counts as used): 348 of 365 days left, 1.00 CNY a day.
    r = refund(START + 16 * D)
    assert (r.amount_minor, r.basis, r.unexpired_days) == (348_00, domain.RefundBasis.PRO_RATA, 348)
    # 100.00 over 7 days, 3 unexpired: 42.857… rounds down to 42.85.
    short = domain.cancellation_refund(
        premium_minor=100_00,
        issued_on=START,
        starts_on=START,
        ends_on=START + 6 * D,
        cooling_off_days=0,
        today=START + 3 * D,
    )
    assert (short.amount_minor, short.basis) == (42_85, domain.RefundBasis.PRO_RATA)
    assert refund(END).amount_minor == 0


def test_only_a_paid_pending_or_active_policy_without_live_claims_is_cancelled() -> None:
    domain.check_cancellable(P.ACTIVE, P.PENDING, 0)
    domain.check_cancellable(P.ACTIVE, P.ACTIVE, 0)
    with pytest.raises(domain.NotCancellable, match="still being collected"):
        domain.check_cancellable(P.PENDING, P.PENDING, 0)
    for stored, today in ((P.ACTIVE, P.EXPIRED), (P.CANCELLED, P.CANCELLED), (P.EXPIRED, P.EXPIRED)):
        with pytest.raises(domain.NotCancellable):
            domain.check_cancellable(stored, today, 0)
    with pytest.raises(domain.PolicyHasClaims):
        domain.check_cancellable(P.ACTIVE, P.ACTIVE, 1)


def test_renewal_opens_thirty_days_before_the_end_and_starts_the_day_after() -> None:
    with pytest.raises(domain.NotRenewable, match="opens on 2027-01-29"):
        domain.renewal_start(P.ACTIVE, END, False, END - domain.RENEWAL_OPENS - D)
    assert domain.renewal_start(P.ACTIVE, END, False, END - domain.RENEWAL_OPENS) == END + D
    assert domain.renewal_start(P.EXPIRED, END, False, END + 10 * D) == END + 10 * D
    with pytest.raises(domain.AlreadyRenewed):
        domain.renewal_start(P.ACTIVE, END, True, END)
    for status in (P.LAPSED, P.CANCELLED, P.PENDING, P.FAILED):
        with pytest.raises(domain.NotRenewable):
            domain.renewal_start(status, END, False, END)


def test_claims_are_paid_only_into_bank_accounts() -> None:
    domain.check_payout_account("checking", "CNY")
    domain.check_payout_account("savings", "CNY")
    with pytest.raises(domain.UnsuitableAccount, match="not a securities_cash account"):
        domain.check_payout_account("securities_cash", "CNY")


def test_each_product_names_its_cooling_off_period() -> None:
    periods = {p.code: p.cooling_off_days for p in domain.CATALOGUE}
    assert periods == {"personal_accident": 15, "short_term_health": 15, "travel": 0, "phone_screen": 7}
    assert all(domain.Product.from_dict(p.to_dict()) == p for p in domain.CATALOGUE)
