"""Registration in two steps, so that a registrant proves they hold the phone number and
nobody learns from the answers whether a number banks here.

`POST /v1/auth/registrations {phone}` always answers 202 alike and sends a text message
(gateway/sandbox/inbox.py): a six-digit code, or, for a number that already has an
account, a note saying so with no code. Either way a registration row is kept, with only
an HMAC of a code (one nobody is sent, for a taken number), so the second step behaves
the same for both. `POST /v1/auth/register {phone, code, password, name}` then succeeds
only with the code sent: a wrong, expired or spent code and a taken number all answer the
same `registration-code-invalid`. A code expires after `GATEWAY_REGISTRATION_CODE_TTL_S`
and locks after `GATEWAY_REGISTRATION_CODE_MAX_ATTEMPTS` wrong tries; asking again sends a
new one (asking is rate limited per address and per number: gateway/ratelimit.py).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.errors import Refused
from gateway.identity import store
from gateway.identity.stepup import ChallengeState, Verdict, attempt, code_hash, new_code
from gateway.sandbox.inbox import REGISTRATION_CODE, Inbox
from shared.clock import Clock
from shared.db import Database, table_of


class RegistrationCodeInvalid(Refused):
    code = "registration-code-invalid"
    detail = (
        "this code does not register this number: it is wrong, has expired or was tried too often, or the number "
        "cannot be registered. Ask for a new code with POST /v1/auth/registrations"
    )


def code_text(code: str, ttl_s: int) -> str:
    return (
        f"{code} is your code to register this number with Sandbank. It expires in {ttl_s // 60} minutes. "
        "Never share it."
    )


TAKEN_TEXT = (
    "Someone asked to register this number with Sandbank, but it already has an account: no code is needed. "
    "Log in instead; if this was not you, you can ignore this message."
)


def _key(phone: str) -> str:
    # The HMAC's message names what the code is for, so a registration code and a step-up
    # challenge's can never stand in for each other.
    return f"registration:{phone}"


class Registrations:
    def __init__(
        self, db: Database, inbox: Inbox, secret: bytes, clock: Clock, *, ttl_s: int, max_attempts: int
    ) -> None:
        self.db = db
        self.inbox = inbox
        self.secret = secret
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_s)
        self.max_attempts = max_attempts

    async def start(self, phone: str) -> datetime:
        """Send a registration code to `phone` (or, if it has an account, say so), replacing
        any code sent before; when it expires."""
        now = self.clock.now()
        code = new_code()
        table = table_of(store.Registration)
        row = {
            "phone": phone,
            "code_hash": code_hash(self.secret, _key(phone), code),
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "expires_at": now + self.ttl,
        }
        insert = (sqlite_insert if self.db.sqlite else pg_insert)(table).values(row)
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.phone], set_={k: v for k, v in row.items() if k != "phone"}
        )
        async with self.db.write() as session, session.begin():
            taken = await session.scalar(select(store.User.id).where(store.User.phone == phone)) is not None
            await session.execute(upsert)
            text = TAKEN_TEXT if taken else code_text(code, int(self.ttl.total_seconds()))
            self.inbox.send(
                session, phone=phone, kind=REGISTRATION_CODE, body=text, code=None if taken else code, now=now
            )
        return now + self.ttl

    async def verify(self, phone: str, code: str) -> None:
        """Raise `RegistrationCodeInvalid` unless `code` is the one sent to `phone`; a wrong
        one counts towards the lock."""
        now = self.clock.now()
        async with self.db.write() as session, session.begin():
            row = await session.get(store.Registration, phone, with_for_update=True)
            if row is None:
                raise RegistrationCodeInvalid()
            code_ok = hmac.compare_digest(row.code_hash, code_hash(self.secret, _key(phone), code))
            verdict, state = attempt(
                ChallengeState(row.status, row.attempts, row.expires_at),
                code_ok=code_ok,
                now=now,
                max_attempts=self.max_attempts,
            )
            row.status, row.attempts = state.status, state.attempts
        if verdict != Verdict.APPROVED:
            raise RegistrationCodeInvalid()

    async def finish(self, phone: str) -> None:
        """The registration is done: its code is spent."""
        async with self.db.write() as session, session.begin():
            await session.execute(delete(store.Registration).where(store.Registration.phone == phone))
