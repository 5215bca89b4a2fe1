"""Which limits a payment from a new device meets: the gateway-signed end of the device's
first day, and the lower per-payment and daily caps (AUTH_NEW_DEVICE_*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.payments.domain import NewDeviceLimits, PaymentRejected, check_new_device_limits, device_is_new
from shared.settings import AuthSettings

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
LIMITS = NewDeviceLimits(per_payment_minor=1_000_00, daily_minor=5_000_00)


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
