"""The services' events a customer is told about (group `<service>-notifications`), and the
completed transfers that teach step-up's new-payee rule who each customer has paid."""

from __future__ import annotations

from gateway.notifications import notify
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from shared.clock import Clock
from shared.events import Envelope, Message
from shared.events import insurance as ins
from shared.events import payments as pay
from shared.events import securities as sec
from shared.events.topics import INSURANCE_EVENTS, PAYMENTS_EVENTS, SECURITIES_EVENTS
from shared.kafka.consumer import Handler
from shared.kafka.messaging import UnitOfWork
from shared.runtime import ConsumerSpec


class Notifier:
    """Turns events into stored notifications (gateway/notify.py says what they read) and
    learns which payees each customer has paid, for step-up's new-payee rule."""

    def __init__(self, hub: NotificationHub, clock: Clock) -> None:
        self.hub = hub
        self.clock = clock

    async def _store(self, uow: UnitOfWork, envelope: Envelope, drafts: list[notify.Draft]) -> None:
        await notifications.add(
            uow, self.hub, drafts, event_id=envelope.id, event_at=envelope.time, now=self.clock.now()
        )

    async def when_payment_completed_notify_both_sides(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, pay.PaymentCompleted)
        await self._store(uow, e, notify.payment_completed(m))

    async def when_payment_failed_notify_payer(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, pay.PaymentFailed)
        await self._store(uow, e, notify.payment_failed(m))

    async def when_order_filled_notify(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, sec.OrderFilled)
        await self._store(uow, e, notify.order_filled(m))

    async def when_order_rejected_notify(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, sec.OrderRejected)
        await self._store(uow, e, notify.order_rejected(m))

    async def when_price_alerted_notify_watchers(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, sec.PriceAlerted)
        watchers = await notifications.watchers(uow.session, m.symbol)
        await self._store(uow, e, notify.price_alert(m, watchers))

    async def when_policy_issued_notify(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, ins.PolicyIssued)
        await self._store(uow, e, notify.policy_issued(m))

    async def when_policy_purchase_failed_notify(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, ins.PolicyPurchaseFailed)
        await self._store(uow, e, notify.policy_purchase_failed(m))

    async def when_claim_changed_notify(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, ins.ClaimEvent)
        await self._store(uow, e, notify.claim_changed(e.type, m))

    async def when_claim_paid_notify(self, uow: UnitOfWork, e: Envelope, m: Message) -> None:
        assert isinstance(m, ins.ClaimPaid)
        await self._store(uow, e, notify.claim_paid(m))

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            pay.PaymentCompleted.TYPE: self.when_payment_completed_notify_both_sides,
            pay.PaymentFailed.TYPE: self.when_payment_failed_notify_payer,
            sec.OrderFilled.TYPE: self.when_order_filled_notify,
            sec.OrderRejected.TYPE: self.when_order_rejected_notify,
            sec.PriceAlerted.TYPE: self.when_price_alerted_notify_watchers,
            ins.PolicyIssued.TYPE: self.when_policy_issued_notify,
            ins.PolicyPurchaseFailed.TYPE: self.when_policy_purchase_failed_notify,
            ins.ClaimPaid.TYPE: self.when_claim_paid_notify,
        }
        table |= {t: self.when_claim_changed_notify for t in notify.CLAIM_CHANGES}
        return table


def notifications_consumer(service: str, notifier: Notifier) -> ConsumerSpec:
    """The group name follows the process's service name, so a second gateway started beside
    the stack (tests) reads the topics for itself instead of splitting them."""
    return ConsumerSpec(
        name=f"{service}-notifications",
        topics=[PAYMENTS_EVENTS, SECURITIES_EVENTS, INSURANCE_EVENTS],
        handlers=notifier.handlers(),
    )
