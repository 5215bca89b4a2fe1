"""The look-up allowance and the day's limits as pure rules."""

from __future__ import annotations

import pytest

from services.payments.domain import LookupAllowance, RiskPolicy, day_limits


def test_look_ups_are_granted_up_to_the_burst_then_refused_with_the_wait() -> None:
    allowance = LookupAllowance(burst=3, per_minute=6)

    granted = [allowance.take("c-1", now=100.0) for _ in range(3)]
    refused = allowance.take("c-1", now=100.0)

    assert granted == [0.0, 0.0, 0.0]
    assert refused == pytest.approx(10.0)


def test_the_allowance_refills_with_time_and_is_per_customer() -> None:
    allowance = LookupAllowance(burst=1, per_minute=6)
    allowance.take("c-1", now=0.0)

    assert allowance.take("c-2", now=0.0) == 0.0
    assert allowance.take("c-1", now=5.0) > 0
    assert allowance.take("c-1", now=15.0) == 0.0


def test_past_its_bound_the_allowance_forgets_customers_whose_buckets_are_full_again() -> None:
    allowance = LookupAllowance(burst=1, per_minute=60, max_customers=2)
    allowance.take("old", now=0.0)
    allowance.take("busy", now=9.5)

    assert allowance.take("new", now=10.0) == 0.0
    assert allowance.take("busy", now=10.0) > 0


@pytest.mark.parametrize(
    ("kyc_class", "daily", "used", "remaining", "payable_now"),
    [
        ("I", None, 700_00, None, 50_000_00),
        ("II", 10_000_00, 300_00, 9_700_00, 9_700_00),
        ("II", 10_000_00, 12_000_00, 0, 0),
        ("III", 2_000_00, 0, 2_000_00, 2_000_00),
    ],
)
def test_the_days_limits_say_what_remains_and_the_largest_payment_allowed_now(
    kyc_class: str, daily: int | None, used: int, remaining: int | None, payable_now: int
) -> None:
    limits = day_limits(kyc_class, daily, used, RiskPolicy())

    assert (limits.remaining_minor, limits.payable_now_minor) == (remaining, payable_now)
