"""What the gateway hears from Kafka: accounts' replies that settle sandbox deposits."""

from __future__ import annotations

from sqlalchemy import update

from gateway import store
from shared.events import Envelope, Message
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_EVENTS
from shared.kafka.messaging import UnitOfWork
from shared.service import ConsumerSpec


async def when_account_credited_complete_deposit(uow: UnitOfWork, _e: Envelope, message: Message) -> None:
    assert isinstance(message, ev.AccountCredited)
    await uow.session.execute(
        update(store.Deposit)
        .where(store.Deposit.id == message.credit_id, store.Deposit.status == "pending")
        .values(status="completed", updated_at=_e.time)
    )


async def when_credit_rejected_fail_deposit(uow: UnitOfWork, _e: Envelope, message: Message) -> None:
    assert isinstance(message, ev.CreditRejected)
    await uow.session.execute(
        update(store.Deposit)
        .where(store.Deposit.id == message.credit_id, store.Deposit.status == "pending")
        .values(status="failed", reason=message.reason, detail=message.detail[:300], updated_at=_e.time)
    )


def consumers() -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="gateway",
            topics=[ACCOUNTS_EVENTS],
            handlers={
                ev.AccountCredited.TYPE: when_account_credited_complete_deposit,
                ev.CreditRejected.TYPE: when_credit_rejected_fail_deposit,
            },
        )
    ]
