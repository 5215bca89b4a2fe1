"""The services' events a customer is told about (group `<service>-notifications`)."""

from __future__ import annotations

from gateway.notifications import notify
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from shared.clock import Clock
from shared.events import Envelope
from shared.events import accounts as acc
from shared.events import insurance as ins
from shared.events import payments as pay
from shared.events import securities as sec
from shared.events.topics import ACCOUNTS_EVENTS, INSURANCE_EVENTS, PAYMENTS_EVENTS, SECURITIES_EVENTS
from shared.kafka.consumer import Handler
from shared.kafka.messaging import UnitOfWork
from shared.runtime import ConsumerSpec

Writer = notifications.NotificationWriter


class Notifier:
    """Turns events into stored notifications (notify.py says what they read). Each handler
    is registered under its event's type, so it is given exactly that event."""

    def __init__(self, hub: NotificationHub, clock: Clock, *, sandbox: bool = False) -> None:
        self.hub = hub
        self.clock = clock
        self.sandbox = sandbox  # pushes go to the sandbox's log (gateway/sandbox/store.py)

    def writer(self, uow: UnitOfWork) -> notifications.NotificationWriter:
        """The working set each transaction's handlers share (shared.kafka.consumer.Batch)."""
        return notifications.NotificationWriter(uow, self.hub, sandbox=self.sandbox, batched=True)

    async def _store(
        self, writer: notifications.NotificationWriter, envelope: Envelope, drafts: list[notify.Draft]
    ) -> None:
        await writer.add(drafts, event_id=envelope.id, event_at=envelope.time, now=self.clock.now())

    async def when_payment_completed_notify_both_sides(
        self, writer: Writer, e: Envelope, m: pay.PaymentCompleted
    ) -> None:
        await self._store(writer, e, notify.payment_completed(m))

    async def when_payment_failed_notify_payer(self, writer: Writer, e: Envelope, m: pay.PaymentFailed) -> None:
        await self._store(writer, e, notify.payment_failed(m))

    async def when_order_filled_notify(self, writer: Writer, e: Envelope, m: sec.OrderFilled) -> None:
        await self._store(writer, e, notify.order_filled(m))

    async def when_order_partially_filled_notify(
        self, writer: Writer, e: Envelope, m: sec.OrderPartiallyFilled
    ) -> None:
        await self._store(writer, e, notify.order_partially_filled(m))

    async def when_order_rejected_notify(self, writer: Writer, e: Envelope, m: sec.OrderRejected) -> None:
        await self._store(writer, e, notify.order_rejected(m))

    async def when_order_cancelled_notify(self, writer: Writer, e: Envelope, m: sec.OrderCancelled) -> None:
        await self._store(writer, e, notify.order_cancelled(m))

    async def when_price_alerted_notify_watchers(self, writer: Writer, e: Envelope, m: sec.PriceAlerted) -> None:
        watchers = await notifications.watchers(writer.uow.session, m.symbol)
        await self._store(writer, e, notify.price_alert(m, watchers))

    async def when_policy_issued_notify(self, writer: Writer, e: Envelope, m: ins.PolicyIssued) -> None:
        await self._store(writer, e, notify.policy_issued(m))

    async def when_policy_purchase_failed_notify(
        self, writer: Writer, e: Envelope, m: ins.PolicyPurchaseFailed
    ) -> None:
        await self._store(writer, e, notify.policy_purchase_failed(m))

    async def when_policy_cancelled_notify(self, writer: Writer, e: Envelope, m: ins.PolicyCancelled) -> None:
        await self._store(writer, e, notify.policy_cancelled(m))

    async def when_policy_cover_started_notify(self, writer: Writer, e: Envelope, m: ins.PolicyCoverStarted) -> None:
        await self._store(writer, e, notify.policy_cover_started(m))

    async def when_policy_expired_notify(self, writer: Writer, e: Envelope, m: ins.PolicyExpired) -> None:
        await self._store(writer, e, notify.policy_expired(m))

    async def when_policy_lapsed_notify(self, writer: Writer, e: Envelope, m: ins.PolicyLapsed) -> None:
        await self._store(writer, e, notify.policy_lapsed(m))

    async def when_premium_refunded_notify(self, writer: Writer, e: Envelope, m: ins.PremiumRefunded) -> None:
        await self._store(writer, e, notify.premium_refunded(m))

    async def when_claim_changed_notify(self, writer: Writer, e: Envelope, m: ins.ClaimEvent) -> None:
        await self._store(writer, e, notify.claim_changed(e.type, m))

    async def when_claim_paid_notify(self, writer: Writer, e: Envelope, m: ins.ClaimPaid) -> None:
        await self._store(writer, e, notify.claim_paid(m))

    async def when_account_frozen_notify(self, writer: Writer, e: Envelope, m: acc.AccountFrozen) -> None:
        await self._store(writer, e, notify.account_frozen(m))

    async def when_account_unfrozen_notify(self, writer: Writer, e: Envelope, m: acc.AccountUnfrozen) -> None:
        await self._store(writer, e, notify.account_unfrozen(m))

    async def when_kyc_decided_notify(self, writer: Writer, e: Envelope, m: acc.KycApplicationDecided) -> None:
        await self._store(writer, e, notify.kyc_decided(m))

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            acc.AccountFrozen.TYPE: self.when_account_frozen_notify,
            acc.AccountUnfrozen.TYPE: self.when_account_unfrozen_notify,
            pay.PaymentCompleted.TYPE: self.when_payment_completed_notify_both_sides,
            pay.PaymentFailed.TYPE: self.when_payment_failed_notify_payer,
            sec.OrderFilled.TYPE: self.when_order_filled_notify,
            sec.OrderPartiallyFilled.TYPE: self.when_order_partially_filled_notify,
            sec.OrderRejected.TYPE: self.when_order_rejected_notify,
            sec.OrderCancelled.TYPE: self.when_order_cancelled_notify,
            sec.PriceAlerted.TYPE: self.when_price_alerted_notify_watchers,
            ins.PolicyIssued.TYPE: self.when_policy_issued_notify,
            ins.PolicyPurchaseFailed.TYPE: self.when_policy_purchase_failed_notify,
            ins.ClaimPaid.TYPE: self.when_claim_paid_notify,
            ins.PolicyCancelled.TYPE: self.when_policy_cancelled_notify,
            ins.PolicyCoverStarted.TYPE: self.when_policy_cover_started_notify,
            ins.PolicyExpired.TYPE: self.when_policy_expired_notify,
            ins.PolicyLapsed.TYPE: self.when_policy_lapsed_notify,
            ins.PremiumRefunded.TYPE: self.when_premium_refunded_notify,
            acc.KycApplicationDecided.TYPE: self.when_kyc_decided_notify,
        }
        table |= {t: self.when_claim_changed_notify for t in notify.CLAIM_CHANGES}
        return table


def notifications_consumer(service: str, notifier: Notifier) -> ConsumerSpec:
    """The group name follows the process's service name, so a second gateway started beside
    the stack (tests) reads the topics for itself instead of splitting them."""
    return ConsumerSpec(
        name=f"{service}-notifications",
        topics=[PAYMENTS_EVENTS, SECURITIES_EVENTS, INSURANCE_EVENTS, ACCOUNTS_EVENTS],
        handlers=notifier.handlers(),
        batch=notifier.writer,
    )
