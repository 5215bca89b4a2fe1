"""securities use cases: placing and cancelling orders, matching them against the
simulated market, settling fills with accounts, bank-securities transfers, and the
reactions to accounts' facts and to deadlines that advance each saga.

Every saga step is one unit of work: the state change and the command to accounts
(through the outbox) commit together. Each reaction loads its saga, asks the decider
(`domain.OrderSaga`, `domain.BankTransferSaga`) and carries the decision out. Business
ids are derived from our own ids (`securities-order-<order id>` is the buy's hold,
`securities-sale-<order id>` the sale's credit, `securities-transfer-<id>` the
transfer), so a re-sent command is applied once by accounts and its facts find their
way back here.
"""

from __future__ import annotations

from services.securities.handlers.context import (
    CREDIT_PREFIX,
    HOLD_PREFIX,
    PROCEEDS,
    SETTLEMENT,
    TRANSFER_PREFIX,
    Context,
    OrderHolds,
    credit_id,
    hold_id,
    order_leg,
    transfer_command_id,
)
from services.securities.handlers.messages import price_alert
from services.securities.handlers.orders import (
    OrderRequest,
    cancel_order,
    orders_overdue,
    place_order,
    try_fill,
    when_account_credited_fill_sale,
    when_capture_rejected_release_buy,
    when_credit_rejected_reject_sale,
    when_funds_reserved_accept_order,
    when_hold_captured_fill_buy,
    when_hold_released_end_order,
    when_reservation_rejected_reject_order,
)
from services.securities.handlers.transfers import (
    TransferRequest,
    request_transfer,
    transfers_overdue,
    when_funds_transferred_complete_transfer,
    when_transfer_rejected_fail_transfer,
)
from shared.events import accounts as acc
from shared.kafka.consumer import Handler, bind_handlers


def event_handlers(ctx: Context) -> dict[str, Handler]:
    """accounts' facts that advance the order and transfer sagas, by message type."""
    return bind_handlers(
        ctx,
        {
            acc.FundsReserved: when_funds_reserved_accept_order,
            acc.ReservationRejected: when_reservation_rejected_reject_order,
            acc.HoldReleased: when_hold_released_end_order,
            acc.HoldCaptured: when_hold_captured_fill_buy,
            acc.CaptureRejected: when_capture_rejected_release_buy,
            acc.AccountCredited: when_account_credited_fill_sale,
            acc.CreditRejected: when_credit_rejected_reject_sale,
            acc.FundsTransferred: when_funds_transferred_complete_transfer,
            acc.TransferRejected: when_transfer_rejected_fail_transfer,
        },
    )


__all__ = [
    "CREDIT_PREFIX",
    "HOLD_PREFIX",
    "PROCEEDS",
    "SETTLEMENT",
    "TRANSFER_PREFIX",
    "Context",
    "OrderHolds",
    "OrderRequest",
    "TransferRequest",
    "cancel_order",
    "credit_id",
    "event_handlers",
    "hold_id",
    "order_leg",
    "orders_overdue",
    "place_order",
    "price_alert",
    "request_transfer",
    "transfer_command_id",
    "transfers_overdue",
    "try_fill",
]
