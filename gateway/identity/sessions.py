"""Credentials and sessions: add users, log in, rotate refresh tokens, log out.

Refresh tokens are `<session id>.<secret>`; only a SHA-256 of the secret is kept.
Each refresh spends the token and issues the next; presenting a spent one again
means it leaked, so the whole session (the token family) is revoked.

`AUTH_LOCKOUT_FAILURES` wrong passwords in a row for a phone number (registered or
not, so the lock tells nothing about who banks here) lock its login for
`AUTH_LOCKOUT_S` by the sandbox clock; a good login clears the count. When each
session was last used is noted in memory per request and written in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import Refused
from gateway.identity import store
from gateway.identity.passwords import Passwords
from shared.auth import TokenIssuer, new_device_claim
from shared.clock import Clock
from shared.db import Database, PointReader, table_of
from shared.keys import GATEWAY
from shared.phone import normalise_phone
from shared.sandbox import DEMO_USERS
from shared.settings import AuthSettings

if TYPE_CHECKING:
    from gateway.identity.devices import NewDevice

log = logging.getLogger(__name__)

# A revocation here drops the entry at once; another gateway replica learns of it this late
# (access tokens themselves live AUTH_ACCESS_TTL_S).
ACTIVE_CACHE_S = 10.0
ACTIVITY_FLUSH_S = 5.0
# A refresh token is a session id (36) and a dot and a 43-character secret: anything far
# longer is not one, and is refused before it is hashed.
MAX_REFRESH_TOKEN = 200


class PhoneTaken(Refused):
    code = "phone-taken"
    detail = "a customer with this phone number is already registered"


class InvalidCredentials(Refused):
    code = "invalid-credentials"
    detail = "the phone number or password is incorrect"

    @classmethod
    def with_attempts(cls, attempts_left: int, lockout_s: int) -> InvalidCredentials:
        """The answer warns before the lock: how many wrong passwords this number has left
        (per number, registered or not, so it tells nothing about who is a customer)."""
        if attempts_left <= 0:
            then = f"logging in with this number is now locked for {lockout_s} s"
        else:
            then = f"{attempts_left} more wrong {'password locks' if attempts_left == 1 else 'passwords lock'} "
            then += f"logging in with this number for {lockout_s} s"
        return cls(f"{cls.detail}; {then}", attempts_left=attempts_left)


class LoginLocked(Refused):
    code = "login-locked"

    def __init__(self, remaining: timedelta) -> None:
        seconds = max(1, math.ceil(remaining.total_seconds()))
        super().__init__(
            f"too many wrong passwords for this phone number: logging in is locked for {seconds} s",
            retry_after_s=seconds,
        )


class RefreshTokenInvalid(Refused):
    code = "invalid-refresh-token"
    detail = "the refresh token is not valid; log in again"


class RefreshTokenReused(Refused):
    code = "refresh-token-reused"
    detail = "this refresh token was already used; the session has been revoked, log in again"


class SessionNotFound(Refused):
    code = "not-found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} was not found")


@dataclass(frozen=True)
class SessionView:
    id: str
    device_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime


# Decides whether a user whose password was right may have a session on the device.
Admit = Callable[[store.User], Awaitable[datetime | None]]


def login_phone(phone: str) -> str:
    """A phone number as typed at login: normalised when it is a mobile number, as given if
    not (a wrong number then counts towards its own lock and limits, like any other)."""
    with contextlib.suppress(ValueError):
        return normalise_phone(phone)
    return phone


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    def __init__(
        self, db: Database, tokens: TokenIssuer, passwords: Passwords, settings: AuthSettings, clock: Clock
    ) -> None:
        self.db = db
        self.tokens = tokens
        self.passwords = passwords
        self.settings = settings
        self.clock = clock
        self._active: dict[str, tuple[float, str]] = {}
        self._touched: dict[str, datetime] = {}
        # Asked on a request whose session's answer is no longer kept: kept off the ORM.
        self._live = PointReader(db, table_of(store.Session), ["user_id", "revoked_at"], ["id"])
        # Told the id of every session that ends (live notification streams close).
        self.on_revoke: list[Callable[[str], None]] = []

    async def phone_taken(self, phone: str) -> bool:
        async with self.db.read() as session:
            return await session.scalar(select(store.User.id).where(store.User.phone == phone)) is not None

    async def add_user(self, *, user_id: str, phone: str, name: str, password: str, roles: list[str]) -> store.User:
        user = store.User(
            id=user_id,
            phone=phone,
            name=name,
            password_hash=await self.passwords.hash(password),
            roles=roles,
            created_at=self.clock.now(),
        )
        try:
            async with self.db.write() as session, session.begin():
                session.add(user)
        except IntegrityError:
            raise PhoneTaken() from None
        return user

    async def seed_demo_users(self) -> None:
        """Add the demo users a data directory lacks; one that exists gets the roles its
        seed has now (a data directory from before a role was added keeps working)."""
        for demo in DEMO_USERS:
            async with self.db.read() as session:
                found = await session.get(store.User, demo.id)
            if found is not None:
                if sorted(found.roles) != sorted(demo.roles):
                    async with self.db.write() as session, session.begin():
                        await session.execute(
                            update(store.User).where(store.User.id == demo.id).values(roles=list(demo.roles))
                        )
                continue
            await self.add_user(
                user_id=demo.id, phone=demo.phone, name=demo.name, password=demo.password, roles=list(demo.roles)
            )

    async def login(self, phone: str, password: str, device_id: str, admit: Admit | None = None) -> dict[str, object]:
        """A new session on `device_id`. `admit` decides, once the password is right,
        whether the device may have one (gateway/identity/devices.py): it raises to refuse,
        and answers until when the device is new (None: trusted)."""
        phone = login_phone(phone)
        now = self.clock.now()
        async with self.db.read() as session:
            user = await session.scalar(select(store.User).where(store.User.phone == phone))
            attempts = await session.get(store.LoginAttempt, phone)
        if attempts is not None and attempts.locked_until is not None and attempts.locked_until > now:
            raise LoginLocked(attempts.locked_until - now)
        # Same work and the same answer whether the phone or the password was wrong.
        if not await self.passwords.verify(user.password_hash if user else None, password) or user is None:
            left = await self._count_failure(phone, now)
            raise InvalidCredentials.with_attempts(left, self.settings.lockout_s)
        new_until = await admit(user) if admit is not None else None
        session_row = store.Session(
            id=str(uuid.uuid4()),
            user_id=user.id,
            device_id=device_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.refresh_ttl_s),
            new_device_until=new_until,
        )
        async with self.db.write() as session, session.begin():
            session.add(session_row)
            refresh = self._new_refresh(session, session_row.id)
            if attempts is not None:
                await session.execute(delete(store.LoginAttempt).where(store.LoginAttempt.phone == phone))
        return self._pair(user, session_row.id, refresh, new_until)

    async def _count_failure(self, phone: str, now: datetime) -> int:
        """Count a wrong password; how many more this number may have before it locks."""
        try:
            async with self.db.write() as session, session.begin():
                row = await session.get(store.LoginAttempt, phone, with_for_update=True)
                if row is None:
                    row = store.LoginAttempt(phone=phone[:30], failures=0, updated_at=now)
                    session.add(row)
                elif row.locked_until is not None and row.locked_until <= now:
                    row.failures, row.locked_until = 0, None  # the last lock is over: count afresh
                row.failures += 1
                row.updated_at = now
                left = self.settings.lockout_failures - row.failures
                if row.failures >= self.settings.lockout_failures:
                    row.failures = 0
                    row.locked_until = now + timedelta(seconds=self.settings.lockout_s)
                    log.warning(
                        "login locked for %d s after %d wrong passwords",
                        self.settings.lockout_s,
                        self.settings.lockout_failures,
                    )
        except IntegrityError:
            # A concurrent first failure for this phone created the row; this one goes uncounted.
            return self.settings.lockout_failures - 1
        return max(0, left)

    def _new_refresh(self, session: AsyncSession, session_id: str) -> str:
        secret = secrets.token_urlsafe(32)
        session.add(store.RefreshToken(token_hash=_hash(secret), session_id=session_id, created_at=self.clock.now()))
        return f"{session_id}.{secret}"

    def _pair(
        self, user: store.User, session_id: str, refresh: str, new_device_until: datetime | None = None
    ) -> dict[str, object]:
        until = None if new_device_until is None else new_device_until.timestamp()
        access = self.tokens.issue(
            user.id, list(user.roles), audience=GATEWAY, session_id=session_id, extra=new_device_claim(until)
        )
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.settings.access_ttl_s,
            "session_id": session_id,
        }

    async def refresh(self, token: str) -> dict[str, object]:
        session_id, _, secret = token.partition(".")
        if not secret or not session_id or len(token) > MAX_REFRESH_TOKEN:
            raise RefreshTokenInvalid()
        now = self.clock.now()
        async with self.db.write() as session, session.begin():
            row = await session.get(store.RefreshToken, _hash(secret))
            if row is None or row.session_id != session_id:
                raise RefreshTokenInvalid()
            sess = await session.get(store.Session, session_id)
            if sess is None or sess.revoked_at is not None or sess.expires_at < now:
                raise RefreshTokenInvalid()
            if row.used_at is not None:
                sess.revoked_at, sess.revoked_reason = now, "refresh_token_reused"
                self._active.pop(session_id, None)
                reused = True
            else:
                row.used_at = now
                refresh = self._new_refresh(session, session_id)
                user = await session.get(store.User, sess.user_id)
                new_until = sess.new_device_until
                reused = False
        if reused:
            self._revoked(session_id)
            raise RefreshTokenReused()
        if user is None:
            raise RefreshTokenInvalid()
        return self._pair(user, session_id, refresh, new_until)

    async def revoke(self, session_id: str, reason: str) -> None:
        self._active.pop(session_id, None)
        async with self.db.write() as session, session.begin():
            await session.execute(
                update(store.Session)
                .where(store.Session.id == session_id, store.Session.revoked_at.is_(None))
                .values(revoked_at=self.clock.now(), revoked_reason=reason)
            )
        self._revoked(session_id)

    def _revoked(self, session_id: str) -> None:
        for callback in self.on_revoke:
            callback(session_id)

    async def active(self, session_id: str, subject: str) -> bool:
        """Whether a session is live and `subject`'s (a token names both; a session of one
        user never vouches for another). Answers are kept ACTIVE_CACHE_S, and a revocation
        in this process drops them at once; another gateway replica sees it that late."""
        cached = self._active.get(session_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1] == subject
        sess = await self._live.get(session_id)
        if sess is None or sess["revoked_at"] is not None:
            return False
        if len(self._active) > 50_000:
            self._active.clear()
        self._active[session_id] = (time.monotonic() + ACTIVE_CACHE_S, sess["user_id"])
        return bool(sess["user_id"] == subject)

    async def user(self, user_id: str) -> store.User | None:
        async with self.db.read() as session:
            return await session.get(store.User, user_id)

    def forget_cached(self) -> None:
        self._active.clear()
        self._touched.clear()

    def touch(self, session_id: str) -> None:
        self._touched[session_id] = self.clock.now()

    async def flush_activity(self) -> None:
        """Write the sessions' last-used times noted since the last flush, in one statement."""
        batch, self._touched = self._touched, {}
        if not batch:
            return
        table = table_of(store.SessionActivity)
        insert = (sqlite_insert if self.db.sqlite else pg_insert)(table)
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.session_id], set_={"last_used_at": insert.excluded.last_used_at}
        )
        try:
            async with self.db.write() as session, session.begin():
                await session.execute(upsert, [{"session_id": k, "last_used_at": v} for k, v in batch.items()])
        except Exception:
            log.exception("could not write %d sessions' last use; keeping them for the next flush", len(batch))
            for k, v in batch.items():
                self._touched.setdefault(k, v)

    async def write_activity(self) -> None:
        """Background loop: flush last-used times every few seconds (off the request path)."""
        while True:
            await asyncio.sleep(ACTIVITY_FLUSH_S)
            await self.flush_activity()

    async def live_sessions(self, user_id: str) -> list[SessionView]:
        now = self.clock.now()
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(store.Session, store.SessionActivity.last_used_at)
                    .outerjoin(store.SessionActivity, store.SessionActivity.session_id == store.Session.id)
                    .where(
                        store.Session.user_id == user_id,
                        store.Session.revoked_at.is_(None),
                        store.Session.expires_at > now,
                    )
                    .order_by(store.Session.created_at.desc())
                )
            ).all()
        views = []
        for row, stored in rows:
            used = max(t for t in (row.created_at, stored, self._touched.get(row.id)) if t is not None)
            views.append(SessionView(row.id, row.device_id, row.created_at, used, row.expires_at))
        return views

    async def device_of(self, session_id: str) -> str | None:
        """The device a session was opened on (None: no such session)."""
        async with self.db.read() as session:
            return await session.scalar(select(store.Session.device_id).where(store.Session.id == session_id))

    async def revoke_device(self, user_id: str, device_id: str) -> int:
        """End every live session of the user's on that device; how many."""
        async with self.db.read() as session:
            ids = (
                await session.scalars(
                    select(store.Session.id).where(
                        store.Session.user_id == user_id,
                        store.Session.device_id == device_id,
                        store.Session.revoked_at.is_(None),
                    )
                )
            ).all()
        for session_id in ids:
            await self.revoke(session_id, "device_removed")
        return len(ids)

    async def revoke_own(self, user_id: str, session_id: str, caller: NewDevice | None = None) -> None:
        """End one of the user's sessions; someone else's is a 404. A `caller` on a new
        device may end only that device's sessions (`DeviceTooNew`)."""
        async with self.db.read() as session:
            row = await session.get(store.Session, session_id)
        if row is None or row.user_id != user_id:
            raise SessionNotFound(session_id)
        if caller is not None:
            caller.may_act_on(row.device_id)
        await self.revoke(session_id, "revoked_by_user")
