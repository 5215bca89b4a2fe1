"""Deliveries from the notification that causes them to the receiver's answer: written in
the notification's transaction, signed, retried with backoff, logged, given up on."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db import messaging
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from gateway.notifications.notify import Draft
from gateway.notifications.store import NotificationWriter
from gateway.webhooks import rules, store
from gateway.webhooks.delivery import DeliveryWorker
from shared.db import Database
from shared.kafka.messaging import UnitOfWork
from shared.webhooks import WebhookVerificationError, verify
from tests.integration.harness import eventually
from tests.webhooks import Receiver

NOW = datetime.now(UTC)


async def endpoint(
    db: Database, owner: str, url: str, *, events: list[str] | None = None, scope: str = store.SCOPE_CUSTOMER, **kw: Any
) -> store.WebhookEndpoint:
    row = store.WebhookEndpoint(
        id=str(uuid.uuid4()),
        owner_id=owner,
        scope=scope,
        url=url,
        events=events or ["*"],
        description="",
        enabled=True,
        secret=rules.new_secret(),
        previous_secret=None,
        previous_secret_until=None,
        created_at=NOW,
        updated_at=NOW,
    )
    for name, value in kw.items():
        setattr(row, name, value)
    async with db.write() as session, session.begin():
        session.add(row)
    return row


async def notify(db: Database, worker: DeliveryWorker, *drafts: Draft, fail: bool = False) -> None:
    """Record notifications as the gateway does, in one unit of work (rolled back if `fail`)."""
    hub = NotificationHub()
    hub.recorders.append(worker.recorder())

    class Boom(Exception):
        pass

    try:
        async with UnitOfWork(db, messaging, source="gateway") as uow:
            await NotificationWriter(uow, hub).add(drafts, event_id=str(uuid.uuid4()), event_at=NOW, now=NOW)
            if fail:
                raise Boom
    except Boom:
        pass


def paid(customer_id: str, payment_id: str = "p-1") -> Draft:
    return Draft(
        customer_id, "payment_received", "Money received", "You received 1.00 CNY.", {"payment_id": payment_id}
    )


async def deliveries(db: Database, endpoint_id: str) -> list[store.WebhookDelivery]:
    async with db.read() as session:
        return list(await store.deliveries(session, endpoint_id, status=None, before=None, limit=100))


async def settled(db: Database, endpoint_id: str, status: str) -> store.WebhookDelivery:
    async def done() -> store.WebhookDelivery | None:
        found = [d for d in await deliveries(db, endpoint_id) if d.status == status]
        return found[0] if found else None

    found: store.WebhookDelivery = await eventually(done, f"a {status} delivery", timeout_s=10)
    return found


async def test_a_notification_arrives_signed_and_verifies(db: Database, worker: DeliveryWorker) -> None:
    async with Receiver() as receiver:
        hook = await endpoint(db, "c-1", receiver.url)
        await notify(db, worker, paid("c-1"))

        got = await receiver.next()

    event = got.verified(hook.secret)
    assert event["type"] == "payment_received" and event["data"]["payment_id"] == "p-1"
    assert event["data"]["customer_id"] == "c-1" and event["created"] == int(NOW.timestamp())
    assert got.headers["Content-Type"] == "application/json"
    assert got.webhook_id == event["id"]
    delivery = await settled(db, hook.id, "succeeded")
    assert delivery.attempts == 1 and delivery.last_status_code == 200


async def test_a_failing_receiver_gets_it_on_the_third_attempt_and_each_is_logged(
    db: Database, worker: DeliveryWorker
) -> None:
    async with Receiver(answers=[500, 503]) as receiver:
        hook = await endpoint(db, "c-1", receiver.url)
        await notify(db, worker, paid("c-1"))
        delivery = await settled(db, hook.id, "succeeded")

    assert len(receiver.received) == 3
    assert len({r.webhook_id for r in receiver.received}) == 1  # one event, three attempts
    assert len({r.body for r in receiver.received}) == 1
    async with db.read() as session:
        attempts = await store.attempts_of(session, delivery.id)
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert attempts[0].response_excerpt == "receiver says 500" and attempts[2].response_excerpt == "ok"
    # The backoff: 0.05 s after the first failure, 0.1 s after the second.
    assert attempts[1].attempted_at - attempts[0].attempted_at >= timedelta(seconds=0.05)
    assert attempts[2].attempted_at - attempts[1].attempted_at >= timedelta(seconds=0.1)


async def test_after_the_last_attempt_a_delivery_is_failed(db: Database, worker: DeliveryWorker) -> None:
    async with Receiver(answers=[500] * 10) as receiver:
        hook = await endpoint(db, "c-1", receiver.url)
        await notify(db, worker, paid("c-1"))
        delivery = await settled(db, hook.id, "failed")
        await asyncio.sleep(0.3)  # nothing more is sent

    assert delivery.attempts == 3 and len(receiver.received) == 3 and delivery.completed_at is not None


async def test_a_receiver_that_is_not_there_is_logged_with_the_error(db: Database, worker: DeliveryWorker) -> None:
    async with Receiver() as receiver:
        url = receiver.url
    hook = await endpoint(db, "c-1", url)  # nothing listens there now
    await notify(db, worker, paid("c-1"))
    delivery = await settled(db, hook.id, "failed")

    async with db.read() as session:
        attempts = await store.attempts_of(session, delivery.id)
    assert len(attempts) == 3
    assert all(a.status_code is None and a.error and "Connect" in a.error for a in attempts)


async def test_a_customer_endpoint_hears_only_its_owner_and_an_operator_endpoint_everyone(
    db: Database, worker: DeliveryWorker
) -> None:
    async with Receiver() as mine, Receiver() as theirs, Receiver() as partner:
        own = await endpoint(db, "c-1", mine.url)
        other = await endpoint(db, "c-2", theirs.url)
        everyone = await endpoint(db, "op-1", partner.url, scope=store.SCOPE_ALL)
        await notify(db, worker, paid("c-1", "p-mine"))
        await notify(db, worker, paid("c-2", "p-theirs"))

        await partner.next(partner.of_type("payment_received", payment_id="p-mine"))
        await partner.next(partner.of_type("payment_received", payment_id="p-theirs"))
        await mine.next()
        await theirs.next()

    assert [r.event["data"]["payment_id"] for r in mine.received] == ["p-mine"]
    assert [r.event["data"]["payment_id"] for r in theirs.received] == ["p-theirs"]
    assert len(await deliveries(db, own.id)) == len(await deliveries(db, other.id)) == 1
    assert len(await deliveries(db, everyone.id)) == 2


async def test_an_endpoint_gets_only_the_types_it_subscribed_to(db: Database, worker: DeliveryWorker) -> None:
    hook = await endpoint(db, "c-1", "http://127.0.0.1:9/never", events=["claim_paid"])
    await notify(db, worker, paid("c-1"))

    assert await deliveries(db, hook.id) == []


async def test_a_rolled_back_notification_has_no_delivery(db: Database, worker: DeliveryWorker) -> None:
    hook = await endpoint(db, "c-1", "http://127.0.0.1:9/never")
    await notify(db, worker, paid("c-1"), fail=True)

    assert await deliveries(db, hook.id) == []


async def test_a_disabled_endpoint_gets_nothing(db: Database, worker: DeliveryWorker) -> None:
    hook = await endpoint(db, "c-1", "http://127.0.0.1:9/never", enabled=False)
    await notify(db, worker, paid("c-1"))

    assert await deliveries(db, hook.id) == []


async def test_during_a_rotation_deliveries_carry_both_signatures(db: Database, worker: DeliveryWorker) -> None:
    async with Receiver() as receiver:
        hook = await endpoint(
            db,
            "c-1",
            receiver.url,
            previous_secret="whsec_old",
            previous_secret_until=datetime.now(UTC) + timedelta(hours=1),
        )
        await notify(db, worker, paid("c-1"))
        got = await receiver.next()

    assert got.signature.count("v1=") == 2
    got.verified(hook.secret)
    got.verified("whsec_old")


async def test_after_the_grace_period_only_the_new_secret_signs(db: Database, worker: DeliveryWorker) -> None:
    async with Receiver() as receiver:
        hook = await endpoint(
            db,
            "c-1",
            receiver.url,
            previous_secret="whsec_old",
            previous_secret_until=datetime.now(UTC) - timedelta(seconds=1),
        )
        await notify(db, worker, paid("c-1"))
        got = await receiver.next()

    got.verified(hook.secret)
    with pytest.raises(WebhookVerificationError):
        verify(got.body, got.signature, "whsec_old")


async def test_many_notifications_in_one_transaction_are_all_delivered(db: Database, worker: DeliveryWorker) -> None:
    async with Receiver() as receiver:
        hook = await endpoint(db, "c-1", receiver.url)
        await notify(db, worker, *(paid("c-1", f"p-{n}") for n in range(20)))

        async def all_arrived() -> bool:
            return len(receiver.received) >= 20

        await eventually(all_arrived, "20 deliveries", timeout_s=10)

    assert sorted(r.event["data"]["payment_id"] for r in receiver.received) == sorted(f"p-{n}" for n in range(20))
    # Each event names its own notification: the one listed with its payment.
    named = {r.event["data"]["notification_id"]: r.event["data"]["payment_id"] for r in receiver.received}
    async with db.read() as session:
        listed = {n.id: n.data["payment_id"] for n in await notifications.after(session, "c-1", min(named) - 1)}
    assert named == listed
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(store.WebhookDelivery).where(store.WebhookDelivery.endpoint_id == hook.id)
        )
    assert count == 20
