"""Which devices the sandbox trusts on sight, and when a bound device stops being new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.identity.devices import is_new, sandbox_trusted
from shared.sandbox import DEMO_USERS

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
CUSTOMER = "3f1c9a52-7d4e-4b8a-9c6d-2e5f1a0b7c3d"
LI_WEI = next(u for u in DEMO_USERS if "customer" in u.roles).id


@pytest.mark.parametrize(
    ("device_id", "user_id", "trusted"),
    [
        ("trusted-tablet", CUSTOMER, True),
        ("pytest", CUSTOMER, True),
        ("pytest-ops", CUSTOMER, True),
        ("sandbank-testing", CUSTOMER, True),
        ("unknown-device", CUSTOMER, True),  # a login that names no device
        ("iphone-15-abc", CUSTOMER, False),
        ("my-trusted-phone", CUSTOMER, False),  # a prefix, not anywhere in the id
        ("iphone-15-abc", LI_WEI, True),  # a seeded demo customer
    ],
)
def test_the_sandbox_trusts_the_documented_devices(device_id: str, user_id: str, trusted: bool) -> None:
    assert sandbox_trusted(device_id, user_id) is trusted


@pytest.mark.parametrize(
    ("new_until", "new"),
    [(None, False), (NOW + timedelta(hours=24), True), (NOW, False), (NOW - timedelta(seconds=1), False)],
)
def test_a_bound_device_is_new_until_its_day_is_over(new_until: datetime | None, new: bool) -> None:
    assert is_new(new_until, NOW) is new
