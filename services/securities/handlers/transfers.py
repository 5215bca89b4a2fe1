"""Bank-securities transfers: one TransferFunds between the customer's own accounts,
sent again by the sweeper until accounts answers (`domain.BankTransferSaga` decides)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.securities import domain, store
from services.securities.domain.sagas import BANK_TRANSFER, TRANSFER
from services.securities.handlers.context import TRANSFER_PREFIX, Context, ours
from services.securities.handlers.messages import transfer_command, transfer_event
from shared.events import accounts as acc
from shared.events import securities as ev
from shared.kafka.messaging import UnitOfWork
from shared.saga.model import COMPLETED, FAILED, Decision, advance
from shared.saga.store import audit_saga, correlated


@dataclass(frozen=True)
class TransferRequest:
    direction: str  # bank_to_securities | securities_to_bank
    from_account_id: str
    to_account_id: str
    amount_minor: int
    currency: str = "CNY"


async def request_transfer(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    key: str | None,
    req: TransferRequest,
    available_minor: int | None = None,
    correlation_id: str | None = None,
) -> tuple[store.BankTransfer, bool]:
    """Move cash between the customer's bank and securities cash accounts with one
    `TransferFunds` (the customer's own money: it does not count toward KYC limits).
    `available_minor`, when known, is the securities cash account's available balance:
    a transfer out may not take today's sale proceeds (T+1)."""
    session = uow.session
    if key is not None and (existing := await store.transfer_by_key(session, customer_id, key)) is not None:
        return existing, False
    if not ctx.market_open():
        raise domain.MarketClosed(
            "bank-securities transfers run during trading hours: " + domain.closed_detail(ctx.local_now(), ctx.calendar)
        )
    if req.direction == "securities_to_bank" and available_minor is not None:
        proceeds = await store.sale_proceeds_since(session, customer_id, req.from_account_id, ctx.unsettled_since())
        domain.check_withdrawal(req.amount_minor, available_minor, proceeds)
    now = ctx.clock.now()
    transfer = store.BankTransfer(
        id=str(uuid.uuid4()),
        kind=BANK_TRANSFER,
        attempts=0,
        customer_id=customer_id,
        idempotency_key=key,
        direction=req.direction,
        from_account_id=req.from_account_id,
        to_account_id=req.to_account_id,
        amount_minor=req.amount_minor,
        currency=req.currency,
        correlation_id=correlation_id,
        created_at=now,
        updated_at=now,
    )
    session.add(transfer)
    await session.flush()
    with correlated(correlation_id):
        audit_saga(uow, transfer, ended=False)
        uow.publish(transfer_event(ev.BankTransferRequested, transfer))
    _carry_out(ctx, uow, transfer, ctx.transfers.on_requested())
    return transfer, True


async def when_funds_transferred_complete_transfer(ctx: Context, uow: UnitOfWork, msg: acc.FundsTransferred) -> None:
    if (transfer := await _transfer_for(uow, msg.transfer_id)) is not None:
        _carry_out(ctx, uow, transfer, ctx.transfers.on_transferred(transfer))


async def when_transfer_rejected_fail_transfer(ctx: Context, uow: UnitOfWork, msg: acc.TransferRejected) -> None:
    if (transfer := await _transfer_for(uow, msg.transfer_id)) is not None:
        _carry_out(ctx, uow, transfer, ctx.transfers.on_transfer_rejected(transfer, msg.reason, msg.detail))


async def transfers_overdue(ctx: Context, uow: UnitOfWork, ids: Sequence[str], now: datetime) -> None:
    """The sweeper's hand-off: each transfer still unanswered sends its command again."""
    for transfer_id in ids:
        transfer = await store.transfer_for_update(uow.session, transfer_id)
        if transfer is not None and transfer.deadline_at is not None and transfer.deadline_at < now:
            _carry_out(ctx, uow, transfer, ctx.transfers.on_deadline(transfer))


def _carry_out(ctx: Context, uow: UnitOfWork, transfer: store.BankTransfer, decision: Decision) -> None:
    if decision.ignored:
        return
    with correlated(transfer.correlation_id):
        for step in advance(transfer, decision, ctx.clock.now(), ctx.transfers.timeouts):
            if step == TRANSFER:
                uow.publish(transfer_command(transfer))
        if decision.outcome is not None:
            audit_saga(uow, transfer, ended=True)
        if decision.outcome == COMPLETED:
            uow.publish(transfer_event(ev.BankTransferCompleted, transfer))
        elif decision.outcome == FAILED:
            detail = transfer.detail or ""
            uow.publish(transfer_event(ev.BankTransferFailed, transfer, reason=transfer.reason or "", detail=detail))


async def _transfer_for(uow: UnitOfWork, business_id: str) -> store.BankTransfer | None:
    transfer_id = ours(business_id, TRANSFER_PREFIX)
    if transfer_id is None:
        return None
    return await store.transfer_for_update(uow.session, transfer_id)
