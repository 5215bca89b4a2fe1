"""Credentials and sessions: register, log in, rotate refresh tokens, log out.

Refresh tokens are `<session id>.<secret>`; only a SHA-256 of the secret is kept.
Each refresh spends the token and issues the next; presenting a spent one again
means it leaked, so the whole session (the token family) is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update

from gateway import store
from shared.auth import (
    Principal,
    TokenIssuer,
    current_principal,
    hash_password,
    unauthorized,
    verify_password,
)
from shared.clock import Clock
from shared.db import Database
from shared.problems import Problem
from shared.sandbox import DEMO_USERS
from shared.settings import AuthSettings

ACTIVE_CACHE_S = 2.0


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(value, now):  # type: ignore[no-untyped-def]
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


class Sessions:
    def __init__(self, db: Database, tokens: TokenIssuer, settings: AuthSettings, clock: Clock) -> None:
        self.db = db
        self.tokens = tokens
        self.settings = settings
        self.clock = clock
        self._active: dict[str, float] = {}

    async def phone_taken(self, phone: str) -> bool:
        async with self.db.read() as session:
            return await session.scalar(select(store.User.id).where(store.User.phone == phone)) is not None

    async def add_user(self, *, user_id: str, phone: str, name: str, password: str, roles: list[str]) -> store.User:
        user = store.User(
            id=user_id,
            phone=phone,
            name=name,
            password_hash=hash_password(password),
            roles=roles,
            created_at=self.clock.now(),
        )
        async with self.db.write() as session, session.begin():
            session.add(user)
        return user

    async def seed_demo_users(self) -> None:
        for demo in DEMO_USERS:
            async with self.db.read() as session:
                if await session.get(store.User, demo.id) is not None:
                    continue
            await self.add_user(
                user_id=demo.id, phone=demo.phone, name=demo.name, password=demo.password, roles=list(demo.roles)
            )

    async def login(self, phone: str, password: str, device_id: str) -> dict[str, object]:
        async with self.db.read() as session:
            user = await session.scalar(select(store.User).where(store.User.phone == phone))
        # Same work and the same answer whether the phone or the password was wrong.
        if not verify_password(user.password_hash if user else None, password) or user is None:
            raise Problem(401, "invalid-credentials", "the phone number or password is incorrect")
        now = self.clock.now()
        session_row = store.Session(
            id=str(uuid.uuid4()),
            user_id=user.id,
            device_id=device_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.refresh_ttl_s),
        )
        async with self.db.write() as session, session.begin():
            session.add(session_row)
            refresh = self._new_refresh(session, session_row.id)
        return self._pair(user, session_row.id, refresh)

    def _new_refresh(self, session, session_id: str) -> str:  # type: ignore[no-untyped-def]
        secret = secrets.token_urlsafe(32)
        session.add(store.RefreshToken(token_hash=_hash(secret), session_id=session_id, created_at=self.clock.now()))
        return f"{session_id}.{secret}"

    def _pair(self, user: store.User, session_id: str, refresh: str) -> dict[str, object]:
        access = self.tokens.issue(user.id, list(user.roles), session_id=session_id)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.settings.access_ttl_s,
            "session_id": session_id,
        }

    async def refresh(self, token: str) -> dict[str, object]:
        session_id, _, secret = token.partition(".")
        invalid = unauthorized("the refresh token is not valid; log in again")
        if not secret:
            raise invalid
        now = self.clock.now()
        async with self.db.write() as session, session.begin():
            row = await session.get(store.RefreshToken, _hash(secret))
            if row is None or row.session_id != session_id:
                raise invalid
            sess = await session.get(store.Session, session_id)
            if sess is None or sess.revoked_at is not None or _aware(sess.expires_at, now) < now:
                raise invalid
            if row.used_at is not None:
                sess.revoked_at, sess.revoked_reason = now, "refresh_token_reused"
                self._active.pop(session_id, None)
                reused = True
            else:
                row.used_at = now
                refresh = self._new_refresh(session, session_id)
                user = await session.get(store.User, sess.user_id)
                reused = False
        if reused:
            raise Problem(
                401,
                "refresh-token-reused",
                "this refresh token was already used; the session has been revoked, log in again",
            )
        assert user is not None
        return self._pair(user, session_id, refresh)

    async def revoke(self, session_id: str, reason: str) -> None:
        self._active.pop(session_id, None)
        async with self.db.write() as session, session.begin():
            await session.execute(
                update(store.Session)
                .where(store.Session.id == session_id, store.Session.revoked_at.is_(None))
                .values(revoked_at=self.clock.now(), revoked_reason=reason)
            )

    async def active(self, session_id: str) -> bool:
        """Whether a session is live. Answers are kept ACTIVE_CACHE_S, and a revocation
        in this process drops them at once; another gateway replica sees it that late."""
        cached = self._active.get(session_id)
        if cached is not None and cached > time.monotonic():
            return True
        async with self.db.read() as session:
            sess = await session.get(store.Session, session_id)
        live = sess is not None and sess.revoked_at is None
        if live:
            if len(self._active) > 50_000:
                self._active.clear()
            self._active[session_id] = time.monotonic() + ACTIVE_CACHE_S
        return live

    async def user(self, user_id: str) -> store.User | None:
        async with self.db.read() as session:
            return await session.get(store.User, user_id)


async def authenticated(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A valid access token whose session is still live (logout revokes at once)."""
    sessions: Sessions = request.app.state.sessions
    if principal.session_id is None or not await sessions.active(principal.session_id):
        raise unauthorized("the session has ended; log in again")
    return principal


Authenticated = Annotated[Principal, Depends(authenticated)]
