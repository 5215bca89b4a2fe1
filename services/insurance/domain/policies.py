"""A policy's life on the sandbox clock: when its cover starts, what it is today (pending,
active, expired, lapsed), what a cancellation refunds, and when it may be renewed.

Stored statuses move only by events (issued, expired, lapsed, cancelled); `status_on`
reads a paid policy's status from its dates, so a policy reads right the moment the
clock passes a date, before the lifecycle job has written it down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from services.insurance.domain.errors import (
    AlreadyRenewed,
    IncidentOutsideCover,
    InvalidStartDate,
    NotCancellable,
    NotRenewable,
    PolicyHasClaims,
    PolicyNotActive,
)
from services.insurance.domain.products import PolicyStatus

# A cover may start at most this far ahead of the purchase (a trip booked for later).
MAX_START_AHEAD = timedelta(days=90)
# A policy can be renewed from this long before its last day ...
RENEWAL_OPENS = timedelta(days=30)
# ... until this long after it; then an unrenewed policy has lapsed.
RENEWAL_GRACE = timedelta(days=30)

# Stored statuses of a policy whose premium was paid (its cover dates are set).
PAID = frozenset({PolicyStatus.ACTIVE, PolicyStatus.EXPIRED, PolicyStatus.LAPSED})


def check_start_date(starts_on: date | None, today: date) -> None:
    """A requested start of cover lies between today and 90 days ahead."""
    if starts_on is None:
        return
    if starts_on < today:
        raise InvalidStartDate(f"the cover cannot start in the past ({starts_on}; today is {today})")
    if starts_on > today + MAX_START_AHEAD:
        latest = today + MAX_START_AHEAD
        raise InvalidStartDate(f"the cover can start at most {MAX_START_AHEAD.days} days ahead (by {latest})")


def start_of_cover(requested: date | None, paid_on: date) -> date:
    """Cover starts on the requested day, or on the day the premium is paid if that is
    later (or nothing was asked)."""
    return max(requested or paid_on, paid_on)


def status_on(stored: str, starts_on: date | None, ends_on: date | None, renewed: bool, today: date) -> PolicyStatus:
    """What a policy is on `today`: a paid policy is pending before its first day, active
    through its last, expired after it, and lapsed once the renewal grace period has passed
    without a renewal."""
    status = PolicyStatus(stored)
    if status not in PAID or starts_on is None or ends_on is None:
        return status
    if today < starts_on:
        return PolicyStatus.PENDING
    if today <= ends_on:
        return PolicyStatus.ACTIVE
    if status == PolicyStatus.LAPSED or (not renewed and today > ends_on + RENEWAL_GRACE):
        return PolicyStatus.LAPSED
    return PolicyStatus.EXPIRED


def check_incident_in_cover(stored: str, starts_on: date | None, ends_on: date | None, incident: date) -> None:
    """A claim is about an incident during a paid cover (an expired policy still answers
    for what happened while it ran)."""
    if PolicyStatus(stored) not in PAID or starts_on is None or ends_on is None:
        raise PolicyNotActive(f"the policy is {stored}; claims are made on policies that were paid for")
    if not starts_on <= incident <= ends_on:
        raise IncidentOutsideCover(
            f"the incident on {incident} is outside the cover, which runs from {starts_on} to {ends_on}"
        )


class RefundBasis(StrEnum):
    BEFORE_START = "before_start"  # the cover had not started: the whole premium
    COOLING_OFF = "cooling_off"  # within the product's cooling-off period: the whole premium
    PRO_RATA = "pro_rata"  # later: the unexpired days' share of the premium


@dataclass(frozen=True)
class Refund:
    amount_minor: int
    basis: RefundBasis
    unexpired_days: int
    cooling_off_until: date


def cancellation_refund(
    *,
    premium_minor: int,
    issued_on: date,
    starts_on: date,
    ends_on: date,
    cooling_off_days: int,
    today: date,
) -> Refund:
    """What cancelling today gives back.

    Before the cover starts, or within `cooling_off_days` days of the day the policy was
    issued (犹豫期), the whole premium. Later, the premium's share for the days of cover
    after today (today counts as used), rounded down to the fen."""
    term_days = (ends_on - starts_on).days + 1
    until = issued_on + timedelta(days=cooling_off_days)
    if today < starts_on:
        return Refund(premium_minor, RefundBasis.BEFORE_START, term_days, until)
    unexpired = max((ends_on - today).days, 0)
    if today <= until and cooling_off_days > 0:
        return Refund(premium_minor, RefundBasis.COOLING_OFF, unexpired, until)
    return Refund(premium_minor * unexpired // term_days, RefundBasis.PRO_RATA, unexpired, until)


def check_cancellable(stored: str, status_today: PolicyStatus, live_claims: int) -> None:
    """A paid policy, pending (not started) or active, with no claim in progress or paid."""
    if stored != PolicyStatus.ACTIVE or status_today not in (PolicyStatus.PENDING, PolicyStatus.ACTIVE):
        if stored == PolicyStatus.PENDING:
            raise NotCancellable("the premium is still being collected; cancel once the policy is issued")
        raise NotCancellable(f"the policy is {status_today}; only a pending or active policy can be cancelled")
    if live_claims:
        raise PolicyHasClaims(f"the policy has {live_claims} claim(s) that were not rejected; it cannot be cancelled")


def renewal_start(status_today: PolicyStatus, ends_on: date | None, renewed: bool, today: date) -> date:
    """The first day of a renewal's term: the day after the old last day, or today if that
    has passed. Open from 30 days before the last day until 30 days after it."""
    if renewed:
        raise AlreadyRenewed("this policy was already renewed")
    if status_today not in (PolicyStatus.ACTIVE, PolicyStatus.EXPIRED) or ends_on is None:
        raise NotRenewable(f"the policy is {status_today}; only an active or recently expired policy is renewed")
    opens = ends_on - RENEWAL_OPENS
    if today < opens:
        raise NotRenewable(f"renewal opens on {opens}, {RENEWAL_OPENS.days} days before the cover ends on {ends_on}")
    return max(ends_on + timedelta(days=1), today)
