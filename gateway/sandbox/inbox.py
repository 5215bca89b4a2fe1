"""The sandbox's SMS: one-time codes go to the phone number they are for, out of band, never
into the API a token can read.

In sandbox mode a message is written to the inbox (`sandbox_message`), read with
`GET /v1/sandbox/inbox`: a customer sees their own number's messages, an operator any
number's. Outside sandbox mode there is no SMS provider: the message is dropped, stored and
logged nowhere, so a code is readable by no one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.sandbox.store import SandboxMessage
from shared.db import Database

STEP_UP_CODE = "step_up_code"
REGISTRATION_CODE = "registration_code"


class Inbox:
    def __init__(self, db: Database, *, sandbox: bool) -> None:
        self.db = db
        self.sandbox = sandbox

    def send(
        self,
        session: AsyncSession,
        *,
        phone: str,
        kind: str,
        body: str,
        code: str | None,
        now: datetime,
        customer_id: str | None = None,
    ) -> None:
        """Send a text message, in the caller's transaction (sent when it commits)."""
        if not self.sandbox:
            return
        session.add(
            SandboxMessage(phone=phone, customer_id=customer_id, kind=kind, body=body, code=code, created_at=now)
        )

    async def messages(self, phone: str, limit: int) -> Sequence[SandboxMessage]:
        """A number's messages, newest first."""
        async with self.db.read() as session:
            found = await session.scalars(
                select(SandboxMessage)
                .where(SandboxMessage.phone == phone)
                .order_by(SandboxMessage.id.desc())
                .limit(limit)
            )
            return found.all()
