"""payments: facts on `payments.events`, keyed by payment id. Payments moves money only
by sending commands to accounts; these events narrate each saga's transitions."""

from __future__ import annotations

from shared.events.envelope import Message
from shared.events.topics import PAYMENTS_EVENTS


class PaymentEvent(Message):
    TOPIC = PAYMENTS_EVENTS
    payment_id: str
    customer_id: str

    def key(self) -> str:
        return self.payment_id


class PaymentRequested(PaymentEvent):
    TYPE = "payments.PaymentRequested"
    kind: str
    payer_account_id: str
    payee_account_id: str
    payee_label: str
    amount_minor: int
    currency: str


class PaymentFundsReserved(PaymentEvent):
    TYPE = "payments.PaymentFundsReserved"
    hold_id: str
    amount_minor: int


class PaymentRiskApproved(PaymentEvent):
    TYPE = "payments.PaymentRiskApproved"


class PaymentRiskRejected(PaymentEvent):
    TYPE = "payments.PaymentRiskRejected"
    rule: str
    detail: str


class PaymentStepRetried(PaymentEvent):
    """A step heard no reply within its timeout and was sent again."""

    TYPE = "payments.PaymentStepRetried"
    stage: str
    attempt: int


class PaymentCompleted(PaymentEvent):
    TYPE = "payments.PaymentCompleted"
    kind: str
    payer_account_id: str
    payee_account_id: str
    payee_customer_id: str | None
    amount_minor: int
    currency: str
    entry_id: str


class PaymentFailed(PaymentEvent):
    TYPE = "payments.PaymentFailed"
    kind: str
    amount_minor: int
    currency: str
    reason: str
    detail: str
