"""Which limits a payment from a new device meets: the gateway-signed end of the device's
first day, and the lower per-payment and daily caps (AUTH_NEW_DEVICE_*); what is left of
them today, as GET /v1/payments/limits shows it; and no schedules set up from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.payments.domain import (
    NewDeviceDay,
    NewDeviceLimits,
    PaymentRejected,
    check_new_device_limits,
    check_schedule_device,
    counts_toward_limits,
    device_is_new,
)
from shared.settings import AuthSettings

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
LIMITS = NewDeviceLimits(per_payment_minor=1_000_00, daily_minor=5_000_00)


@pytest.mark.parametrize(
    ("payee_customer_id", "counts"),
    [
        ("c-1", False),  # a move between the customer's own accounts
        ("c-2", True),  # another customer
        (None, True),  # a biller, a top-up: no customer's account
    ],
)
def test_only_payments_to_others_count_toward_the_days_limits(payee_customer_id: str | None, counts: bool) -> None:
    assert counts_toward_limits("c-1", payee_customer_id) is counts


@pytest.mark.parametrize(
    ("new_until", "new"),
    [
        (None, False),  # a trusted device, or a session with no customer device
        ((NOW + timedelta(hours=23)).timestamp(), True),
        ((NOW + timedelta(seconds=1)).timestamp(), True),
        (NOW.timestamp(), False),  # the day is over at that instant
        ((NOW - timedelta(hours=1)).timestamp(), False),
    ],
)
def test_a_device_is_new_until_the_signed_time(new_until: float | None, new: bool) -> None:
    assert device_is_new(new_until, NOW) is new


@pytest.mark.parametrize(
    ("amount", "paid_today"),
    [(1_000_00, 0), (1_00, 4_999_00), (1_000_00, 4_000_00)],
)
def test_within_the_new_device_limits_a_payment_goes_ahead(amount: int, paid_today: int) -> None:
    check_new_device_limits(amount, paid_today, LIMITS)


@pytest.mark.parametrize(
    ("amount", "paid_today", "says"),
    [
        (1_000_01, 0, "one payment may be at most 1000.00"),
        (1_000_00, 4_000_01, "999.99 CNY is left today"),
        (1_00, 5_000_00, "0.00 CNY is left today"),
    ],
)
def test_beyond_the_new_device_limits_a_payment_is_refused(amount: int, paid_today: int, says: str) -> None:
    with pytest.raises(PaymentRejected) as refused:
        check_new_device_limits(amount, paid_today, LIMITS)
    assert refused.value.code == "new-device-limit"
    assert says in str(refused.value)


def test_the_documented_defaults() -> None:
    auth = AuthSettings()
    assert (auth.device_new_s, auth.new_device_per_payment_minor, auth.new_device_daily_minor) == (
        86_400,
        1_000_00,
        5_000_00,
    )


@pytest.mark.parametrize(
    ("used", "remaining", "payable_now"),
    [(0, 5_000_00, 1_000_00), (4_500_00, 500_00, 500_00), (5_000_00, 0, 0), (6_000_00, 0, 0)],
    ids=["a fresh day", "less than a payment left", "the day used up", "trusted payments past the cap"],
)
def test_a_new_devices_day_shows_what_is_left_and_the_largest_payment_now(
    used: int, remaining: int, payable_now: int
) -> None:
    day = NewDeviceDay(LIMITS, used, NOW + timedelta(hours=3))

    assert (day.remaining_minor, day.payable_now_minor) == (remaining, payable_now)


def test_a_new_device_may_not_set_up_a_schedule() -> None:
    until = NOW + timedelta(hours=20)
    with pytest.raises(PaymentRejected) as refused:
        check_schedule_device(until.timestamp(), NOW)

    assert refused.value.code == "schedule-needs-trusted-device"
    assert until.isoformat(timespec="seconds") in refused.value.detail


@pytest.mark.parametrize("new_until", [None, NOW.timestamp(), (NOW - timedelta(hours=1)).timestamp()])
def test_a_trusted_device_or_one_past_its_first_day_sets_up_schedules(new_until: float | None) -> None:
    check_schedule_device(new_until, NOW)
