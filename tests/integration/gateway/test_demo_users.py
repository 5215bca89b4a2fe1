"""The demo users a gateway seeds at start, on a real database: one missing is added, and
one from an older data directory gets the roles its seed has now (the operator gained the
compliance role after data directories with the operator already existed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from gateway.identity import store
from gateway.identity.passwords import Passwords
from gateway.identity.sessions import Sessions
from shared.clock import Clock
from shared.db import Database
from shared.sandbox import DEMO_USERS, OPERATOR
from shared.settings import AuthSettings


async def roles(db: Database, user_id: str) -> list[str]:
    async with db.read() as session:
        return list(await session.scalar(select(store.User.roles).where(store.User.id == user_id)) or [])


async def test_seeding_adds_the_missing_users_and_brings_old_roles_up_to_date(db: Database) -> None:
    passwords = Passwords(workers=1)
    try:
        tokens: Any = None  # seeding issues no token
        sessions = Sessions(db, tokens, passwords, AuthSettings(), Clock())
        await sessions.seed_demo_users()
        for demo in DEMO_USERS:
            assert sorted(await roles(db, demo.id)) == sorted(demo.roles)

        async with db.write() as session, session.begin():  # a data directory from before
            await session.execute(update(store.User).where(store.User.id == OPERATOR.id).values(roles=["operator"]))
        assert await roles(db, OPERATOR.id) == ["operator"]

        await sessions.seed_demo_users()
        assert sorted(await roles(db, OPERATOR.id)) == sorted(OPERATOR.roles)
        assert "compliance" in OPERATOR.roles
        async with db.read() as session:
            assert len((await session.scalars(select(store.User))).all()) == len(DEMO_USERS)
    finally:
        await passwords.close()
