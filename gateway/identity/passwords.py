"""Passwords: the rules a new one must meet, and argon2id hashing on a small bounded pool.

The rules follow NIST SP 800-63B 5.1.1.2: a minimum length, a generous maximum, and a
check against passwords known to be common or derived from the account itself (here the
phone number), rather than composition rules. `common_passwords.txt` beside this module
says where its list comes from.

Hashing costs tens of milliseconds of CPU by design. It runs on its own few threads, so
a burst of logins cannot take every core from the event loop, and when more than
`max_waiting` hashes are already waiting a new one is refused at once (`PasswordsBusy`,
503) instead of queueing without bound. Only the gateway hashes passwords.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.errors import Refused

MIN_LENGTH = 10
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")

# --- the rules (pure) ---------------------------------------------------------------------------


class WeakPassword(Refused):
    """A new password breaks one of the rules; `rule` names which."""

    code = "weak-password"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _national_number(phone: str) -> str:
    """The 11 digits of a +86 mobile number, the part every way of writing it shares."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def check_password(password: str, phone: str) -> None:
    """Raise `WeakPassword` naming the first rule `password` breaks for the owner of `phone`."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            "min_length", f"the password is too short: use at least {MIN_LENGTH} characters (a few words do well)"
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword("max_length", f"the password is too long: use at most {MAX_LENGTH} characters")
    if len(set(password)) == 1:
        raise WeakPassword("repeated_character", "the password is one character repeated: choose another")
    number = _national_number(phone)
    # Digits of the password with everything else left out, so "+86 138-1234-5678",
    # "8613812345678" and "me13812345678" are all caught.
    if number and number in re.sub(r"\D", "", password):
        raise WeakPassword("phone_number", "the password contains your phone number: choose another")
    if password.lower() in common_passwords():
        raise WeakPassword("common", "the password is one of the most common passwords: choose another")


# --- hashing --------------------------------------------------------------------------------------


class PasswordsBusy(Refused):
    code = "busy"
    detail = "too many password checks are waiting; try again in a moment"
    retry_after_s = 1


T = TypeVar("T")


class Passwords:
    """argon2id hashes and checks on `workers` threads; at most `max_waiting` more wait."""

    def __init__(self, *, workers: int = 2, max_waiting: int = 8) -> None:
        # OWASP's minimum argon2id profile: strong enough for a sandbox, fast enough for tests.
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
        # Checked against when the phone is unknown, so a wrong phone costs the same time
        # as a wrong password and the answer does not tell which part was wrong.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._capacity = workers + max_waiting
        self._pending = 0  # submitted and not finished, running or waiting
        self._lock = threading.Lock()  # finished hashes are counted on the pool's threads

    @property
    def pending(self) -> int:
        return self._pending

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; with no hash (an unknown phone) it is checked against a
        dummy one, as slowly, and is False."""
        return await self._run(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash or self._dummy_hash, password)) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._pending >= self._capacity:
                raise PasswordsBusy()
            self._pending += 1
        try:
            future: Future[T] = self._pool.submit(work, *args)
        except BaseException:
            self._done(None)
            raise
        # Counted until the thread is done with it, even when the request waiting for it
        # went away: a hash already running cannot be stopped.
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, _future: object) -> None:
        with self._lock:
            self._pending -= 1

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
