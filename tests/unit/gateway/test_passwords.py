"""The password rules a new password must meet (each broken one named), and argon2 on a
bounded pool that refuses at once rather than queueing without end."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.identity.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    Passwords,
    PasswordsBusy,
    WeakPassword,
    check_password,
    common_passwords,
)
from shared.sandbox import DEMO_USERS

PHONE = "+8613812345678"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("12345678", "min_length"),
        ("short-pw", "min_length"),
        ("x" * (MIN_LENGTH - 1), "min_length"),
        ("y" * MIN_LENGTH, "repeated_character"),
        ("a" + "b" * MAX_LENGTH, "max_length"),
        ("1111111111", "repeated_character"),
        ("+8613812345678", "phone_number"),
        ("8613812345678", "phone_number"),
        ("13812345678", "phone_number"),
        ("138 1234 5678", "phone_number"),
        ("138-1234-5678", "phone_number"),
        ("my13812345678pw", "phone_number"),
        ("1234567890", "common"),
        ("qwertyuiop", "common"),
        ("Password123", "common"),
        ("sandbank123", "common"),
        ("SANDBANK2026", "common"),
        ("iloveyou1314", "common"),
    ],
)
def test_a_weak_password_is_refused_naming_the_rule(password: str, rule: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password(password, PHONE)
    assert refused.value.rule == rule and refused.value.facts == {"rule": rule}
    assert refused.value.code == "weak-password"


def test_the_length_rule_says_the_minimum() -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password("12345678", PHONE)
    assert f"at least {MIN_LENGTH} characters" in refused.value.detail


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",
        "x" * (MIN_LENGTH - 1) + "y",
        "z" + "w" * (MAX_LENGTH - 1),
        "pw-3f9a1c7e2b4d",
        "深圳湾的风很大呢真的",
    ],
)
def test_a_good_password_passes(password: str) -> None:
    check_password(password, PHONE)


def test_another_numbers_digits_are_fine() -> None:
    check_password("13912345678-mine", PHONE)


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda u: u.name)
def test_the_demo_users_passwords_pass_the_rules(user: object) -> None:
    check_password(user.password, user.phone)  # type: ignore[attr-defined]


def test_the_deny_list_is_loaded_lower_cased_without_comments() -> None:
    common = common_passwords()
    assert {"12345678", "password", "qwerty", "sandbank", "qwertyuiop"} <= common
    assert len(common) > 1000
    assert not any(p.startswith("#") or p != p.lower() for p in common)


# --- hashing ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def passwords() -> Passwords:
    return Passwords(workers=1, max_waiting=1)


async def test_a_hash_verifies_its_password_only(passwords: Passwords) -> None:
    hashed = await passwords.hash("correct horse battery")
    assert await passwords.verify(hashed, "correct horse battery")
    assert not await passwords.verify(hashed, "correct horse battery!")
    assert not await passwords.verify("not-a-hash", "correct horse battery")


async def test_no_hash_never_verifies_even_the_dummy_password(passwords: Passwords) -> None:
    assert not await passwords.verify(None, "anything at all")


async def test_more_than_the_pool_holds_is_refused_at_once() -> None:
    passwords = Passwords(workers=1, max_waiting=1)
    release = threading.Event()
    # Hold the one worker and the one waiting place with work that waits on the test.
    held = [asyncio.ensure_future(passwords._run(release.wait)) for _ in range(2)]
    await asyncio.sleep(0)
    assert passwords.pending == 2
    with pytest.raises(PasswordsBusy):
        await passwords.hash("correct horse battery")
    release.set()
    await asyncio.gather(*held)
    assert passwords.pending == 0
    assert await passwords.verify(await passwords.hash("correct horse battery"), "correct horse battery")
    await passwords.close()


async def test_a_request_that_goes_away_frees_its_place_only_when_the_hash_is_done() -> None:
    passwords = Passwords(workers=1, max_waiting=0)
    release = threading.Event()
    waiting = asyncio.ensure_future(passwords._run(release.wait))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0.01)
    assert passwords.pending == 1  # the thread still runs it
    release.set()
    for _ in range(100):
        if passwords.pending == 0:
            break
        await asyncio.sleep(0.01)
    assert passwords.pending == 0
    await passwords.close()
