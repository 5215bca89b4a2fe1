"""Which devices the sandbox trusts on sight, and when a bound device stops being new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from gateway.errors import Refused
from gateway.identity.devices import (
    NOTIFICATION_PREFERENCES,
    WEBHOOKS,
    DeviceTooNew,
    NewDevice,
    is_new,
    new_device_of,
    only_trusted_device,
    sandbox_trusted,
)
from gateway.identity.schemas import LoginRequest
from shared.auth import ROLE_CUSTOMER, Principal
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


@pytest.mark.parametrize(
    ("signed_until", "held_until"),
    [
        (None, None),
        ((NOW + timedelta(hours=24)).timestamp(), NOW + timedelta(hours=24)),
        (NOW.timestamp(), None),
        ((NOW - timedelta(seconds=1)).timestamp(), None),
    ],
)
def test_a_session_acts_as_a_new_device_until_its_token_says_so(
    signed_until: float | None, held_until: datetime | None
) -> None:
    principal = Principal(CUSTOMER, frozenset({ROLE_CUSTOMER}), "s-1", new_device_until=signed_until)

    assert new_device_of(principal, NOW) == held_until


def test_a_new_device_may_act_on_itself_only() -> None:
    caller = NewDevice("iphone-15-abc", NOW + timedelta(hours=24))

    caller.may_act_on("iphone-15-abc")
    with pytest.raises(DeviceTooNew) as refused:
        caller.may_act_on("pytest")

    assert isinstance(refused.value, Refused) and refused.value.code == "device-too-new"
    assert refused.value.facts["new_until"] == (NOW + timedelta(hours=24)).isoformat()


@pytest.mark.parametrize("rule", [WEBHOOKS, NOTIFICATION_PREFERENCES])
def test_a_new_device_may_not_change_what_every_device_lives_by(rule: str) -> None:
    until = NOW + timedelta(hours=24)
    principal = Principal(CUSTOMER, frozenset({ROLE_CUSTOMER}), "s-1", new_device_until=until.timestamp())

    with pytest.raises(DeviceTooNew) as refused:
        only_trusted_device(principal, NOW, rule)

    assert refused.value.code == "device-too-new" and refused.value.facts == {"new_until": until.isoformat()}
    assert refused.value.detail.startswith(rule)


@pytest.mark.parametrize("signed_until", [None, NOW.timestamp(), (NOW - timedelta(seconds=1)).timestamp()])
def test_a_trusted_device_may_change_what_every_device_lives_by(signed_until: float | None) -> None:
    principal = Principal(CUSTOMER, frozenset({ROLE_CUSTOMER}), "s-1", new_device_until=signed_until)

    only_trusted_device(principal, NOW, WEBHOOKS)


@pytest.mark.parametrize("device_id", ["../../etc", "   ", "pho\x00ne", "a/b", "iphone 15"])
def test_a_login_names_its_device_as_a_push_token_route_can(device_id: str) -> None:
    """What `PUT /v1/me/push-tokens/{device_id}` takes, so every device signed in can be
    pushed to, and no path or control character is kept as a device's name."""
    with pytest.raises(ValidationError):
        LoginRequest(phone="+8613800000001", password="x", device_id=device_id)
    assert LoginRequest(phone="+8613800000001", password="x", device_id="iphone-15_a:b.c").device_id
