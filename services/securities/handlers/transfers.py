"""Bank-securities transfers: one TransferFunds between the customer's own accounts,
answered by accounts, re-sent or given up by the sweeper."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from services.securities import domain, store
from services.securities.handlers.context import TRANSFER_PREFIX, Context, ours
from services.securities.handlers.messages import transfer_command, transfer_event
from shared.events import accounts as acc
from shared.events import securities as ev
from shared.kafka.messaging import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferRequest:
    direction: str  # bank_to_securities | securities_to_bank
    from_account_id: str
    to_account_id: str
    amount_minor: int
    currency: str = "CNY"


async def request_transfer(
    ctx: Context, uow: UnitOfWork, *, customer_id: str, key: str | None, req: TransferRequest
) -> tuple[store.BankTransfer, bool]:
    """Move cash between the customer's bank and securities cash accounts with one
    `TransferFunds` (the customer's own money: it does not count toward KYC limits)."""
    session = uow.session
    if key is not None and (existing := await store.transfer_by_key(session, customer_id, key)) is not None:
        return existing, False
    if not ctx.market_open():
        raise domain.MarketClosed(
            "bank-securities transfers run during trading hours: " + domain.closed_detail(ctx.local_now())
        )
    now = ctx.clock.now()
    transfer = store.BankTransfer(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        idempotency_key=key,
        direction=req.direction,
        from_account_id=req.from_account_id,
        to_account_id=req.to_account_id,
        amount_minor=req.amount_minor,
        currency=req.currency,
        status="pending",
        attempts=1,
        step_deadline_at=ctx.deadline(),
        created_at=now,
        updated_at=now,
    )
    session.add(transfer)
    await session.flush()
    uow.publish(transfer_event(ev.BankTransferRequested, transfer))
    uow.publish(transfer_command(transfer))
    return transfer, True


async def when_funds_transferred_complete_transfer(ctx: Context, uow: UnitOfWork, msg: acc.FundsTransferred) -> None:
    transfer = await _transfer_for(uow, msg.transfer_id)
    # A transfer given up on (timeout) that accounts did apply after all completes:
    # the ledger is the truth.
    if transfer is None or not (
        transfer.status == "pending" or (transfer.status == "failed" and transfer.reason == "timeout")
    ):
        return
    transfer.status, transfer.reason, transfer.detail = "completed", None, None
    transfer.step_deadline_at, transfer.updated_at = None, ctx.clock.now()
    uow.publish(transfer_event(ev.BankTransferCompleted, transfer))


async def when_transfer_rejected_fail_transfer(ctx: Context, uow: UnitOfWork, msg: acc.TransferRejected) -> None:
    transfer = await _transfer_for(uow, msg.transfer_id)
    if transfer is None or transfer.status != "pending":
        return
    _fail_transfer(ctx, uow, transfer, msg.reason, msg.detail)


def _fail_transfer(ctx: Context, uow: UnitOfWork, transfer: store.BankTransfer, reason: str, detail: str) -> None:
    transfer.status, transfer.reason, transfer.detail = "failed", reason, detail[:300]
    transfer.step_deadline_at, transfer.updated_at = None, ctx.clock.now()
    uow.publish(transfer_event(ev.BankTransferFailed, transfer, reason=reason, detail=detail[:300]))


async def _transfer_for(uow: UnitOfWork, business_id: str) -> store.BankTransfer | None:
    transfer_id = ours(business_id, TRANSFER_PREFIX)
    if transfer_id is None:
        return None
    return await store.transfer_for_update(uow.session, transfer_id)


async def resend_or_fail_transfer(ctx: Context, uow: UnitOfWork, transfer: store.BankTransfer) -> None:
    if transfer.status != "pending":
        return
    transfer.updated_at = ctx.clock.now()
    if transfer.attempts < ctx.settings.max_attempts:
        transfer.attempts += 1
        transfer.step_deadline_at = ctx.deadline()
        uow.publish(transfer_command(transfer))
        return
    log.warning("transfer %s unanswered after %d sends; giving up", transfer.id, transfer.attempts)
    _fail_transfer(ctx, uow, transfer, "timeout", "accounts did not answer in time")
