"""Pushing a notification to the customer's devices: one push per registered device, none
for a muted kind, always for a security kind, and none outside sandbox mode (no provider)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import store
from gateway.identity.store import Session
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from gateway.notifications.notify import ALWAYS_PUSHED, KINDS, Draft, pushed
from gateway.presence import Presence
from gateway.sandbox.store import SandboxPush
from shared.db import Database
from shared.kafka.messaging import UnitOfWork

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def test_every_kind_is_pushed_until_it_is_muted() -> None:
    assert all(pushed(k, set()) for k in KINDS)
    assert not pushed("price_alert", {"price_alert"})


def test_a_security_kind_is_pushed_even_when_muted() -> None:
    assert set(KINDS) >= ALWAYS_PUSHED
    assert pushed("stepup_code", {"stepup_code"})


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await database.create_all(store.Base.metadata)
    yield database
    await database.dispose()


async def register(db: Database, customer: str, device: str, token: str) -> None:
    """The customer logs in on the device and registers its token."""
    async with db.write() as session, session.begin():
        session.add(
            Session(
                id=f"s-{customer}-{device}",
                user_id=customer,
                device_id=device,
                created_at=NOW,
                expires_at=NOW + timedelta(days=30),
            )
        )
        await notifications.register_device(session, customer, device, "apns", token, NOW)


async def notify(
    db: Database, *drafts: Draft, sandbox: bool = True, batched: bool = False, hub: NotificationHub | None = None
) -> None:
    async with UnitOfWork(db, store.messaging, source="test") as uow:
        writer = notifications.NotificationWriter(uow, hub or NotificationHub(), sandbox=sandbox, batched=batched)
        await writer.add(drafts, event_id="e-1", event_at=NOW, now=NOW)
        if batched:
            await writer.write()


async def pushes(db: Database) -> list[tuple[str, str, str]]:
    async with db.read() as session:
        found = await session.scalars(select(SandboxPush).order_by(SandboxPush.id))
        return [(p.customer_id, p.device_id, p.kind) for p in found]


def draft(customer: str, kind: str = "payment_received") -> Draft:
    return Draft(customer, kind, "Money received", "You received 1.00 CNY.", {"amount": "1.00"})


@pytest.mark.parametrize("batched", [False, True], ids=["alone", "in a consumer's batch"])
async def test_each_registered_device_of_the_customer_gets_the_push(db: Database, batched: bool) -> None:
    await register(db, "c-1", "phone", "token-phone-1")
    await register(db, "c-1", "tablet", "token-tablet-1")
    await register(db, "c-2", "phone", "token-phone-2")

    await notify(db, draft("c-1"), draft("c-3"), batched=batched)

    assert await pushes(db) == [("c-1", "phone", "payment_received"), ("c-1", "tablet", "payment_received")]


@pytest.mark.parametrize("batched", [False, True], ids=["alone", "in a consumer's batch"])
async def test_each_push_names_the_notification_it_carries(db: Database, batched: bool) -> None:
    await register(db, "c-1", "phone", "token-phone-1")
    await register(db, "c-2", "phone", "token-phone-2")
    await notify(db, draft("c-9"))  # someone else's first: ids are not the rows' positions

    await notify(db, draft("c-1", "price_alert"), draft("c-2"), draft("c-1"), batched=batched)

    async with db.read() as session:
        listed = {
            (n.customer_id, n.kind): n.id
            for customer in ("c-1", "c-2")
            for n in await notifications.after(session, customer, 0)
        }
        found = await session.scalars(select(SandboxPush).order_by(SandboxPush.id))
        named = {(p.customer_id, p.kind): p.notification_id for p in found}
    assert named == listed and len(set(listed.values())) == 3


async def test_a_muted_kind_stays_in_the_list_but_is_not_pushed(db: Database) -> None:
    await register(db, "c-1", "phone", "token-phone-1")
    async with db.write() as session, session.begin():
        await notifications.replace_muted(session, "c-1", {"price_alert", "stepup_code"}, NOW)

    await notify(db, draft("c-1", "price_alert"), draft("c-1", "stepup_code"), draft("c-1"))

    assert [kind for _, _, kind in await pushes(db)] == ["stepup_code", "payment_received"]
    async with db.read() as session:
        assert len(await notifications.after(session, "c-1", 0)) == 3


async def test_a_device_logged_out_gets_no_pushes(db: Database) -> None:
    await register(db, "c-1", "phone", "token-phone-1")
    await register(db, "c-1", "tablet", "token-tablet-1")
    async with db.write() as session, session.begin():
        (await session.get(Session, "s-c-1-tablet")).revoked_at = NOW  # type: ignore[union-attr]

    await notify(db, draft("c-1"))

    assert await pushes(db) == [("c-1", "phone", "payment_received")]


async def test_a_device_registered_at_another_replica_gets_pushes_once_the_hub_looks_again(db: Database) -> None:
    """While no device has a token a batch skips the look-up, until the hub reads again."""
    clock = [0.0]
    hub = NotificationHub()
    hub.devices = Presence(recheck_s=1.0, monotonic=lambda: clock[0])
    await notify(db, draft("c-1"), batched=True, hub=hub)  # no device anywhere

    await register(db, "c-1", "phone", "token-phone-1")  # not through this hub
    await notify(db, draft("c-1"), batched=True, hub=hub)
    assert await pushes(db) == []

    clock[0] = 1.0
    await notify(db, draft("c-1"), batched=True, hub=hub)
    assert await pushes(db) == [("c-1", "phone", "payment_received")]


async def test_outside_sandbox_mode_nothing_is_logged(db: Database) -> None:
    await register(db, "c-1", "phone", "token-phone-1")

    await notify(db, draft("c-1"), sandbox=False)

    assert await pushes(db) == []


async def test_a_token_registered_by_another_login_moves_to_it(db: Database) -> None:
    await register(db, "c-1", "phone", "shared-phone-token")
    await register(db, "c-2", "phone", "shared-phone-token")

    await notify(db, draft("c-1"), draft("c-2"))

    assert await pushes(db) == [("c-2", "phone", "payment_received")]


async def test_read_all_marks_up_to_the_id_given(db: Database) -> None:
    await notify(db, draft("c-1"), draft("c-1"), draft("c-1"), draft("c-2"))
    async with db.read() as session:
        first, second, _third = (n.id for n in await notifications.after(session, "c-1", 0))

    async with db.write() as session, session.begin():
        assert await notifications.mark_all_read(session, "c-1", second, NOW) == 2
        assert await notifications.mark_all_read(session, "c-1", first, NOW) == 0
    async with db.read() as session:
        assert await notifications.unread_count(session, "c-1") == 1
        assert await notifications.unread_count(session, "c-2") == 1
