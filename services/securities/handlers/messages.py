"""The messages the sagas send: commands to accounts rebuilt from an order or transfer
row and its step (so a re-send is the same command), and the facts on securities.events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from services.securities import domain, store
from services.securities.domain import sagas
from services.securities.handlers.context import PROCEEDS, SETTLEMENT, credit_id, hold_id, transfer_command_id
from shared.clock import BANK_TZ
from shared.events import Message
from shared.events import accounts as acc
from shared.events import securities as ev
from shared.schemas.statements import LineKind, ReferenceKind


def end_of_bank_day(day: date) -> datetime:
    """Midnight after `day` in Beijing, plus the expiry sweeper's grace."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BANK_TZ) + timedelta(minutes=10)


def fills_to_json(fills: Sequence[domain.Fill]) -> list[dict[str, Any]]:
    """A matched batch as the order row keeps it until accounts has settled it."""
    return [
        {
            "price": f.price_milli,
            "quantity": f.quantity,
            "gross": f.gross_minor,
            "commission": f.commission_minor,
            "stamp_duty": f.stamp_duty_minor,
        }
        for f in fills
    ]


def pending_fills(order: store.Order) -> list[domain.Fill]:
    """The batch the market matched that accounts is settling (empty when none)."""
    side = domain.Side(order.side)
    return [
        domain.Fill(side, f["quantity"], f["price"], f["gross"], f["commission"], f["stamp_duty"])
        for f in order.pending_fills or []
    ]


def batch_total(fills: Sequence[domain.Fill]) -> domain.Fill:
    """A batch of fills as one: its shares, average price, gross, fees and cash."""
    if not fills:
        raise ValueError("an empty batch has no total")
    average = domain.average_price_milli([(f.price_milli, f.quantity) for f in fills]) or 0
    return domain.Fill(
        fills[0].side,
        sum(f.quantity for f in fills),
        average,
        sum(f.gross_minor for f in fills),
        sum(f.commission_minor for f in fills),
        sum(f.stamp_duty_minor for f in fills),
    )


def prices_text(fills: Sequence[domain.Fill], symbol: str) -> str:
    """`@ 37.16`, or the range a batch walked (`@ 37.16-37.18`), at the instrument's tick."""
    instrument = domain.BY_SYMBOL.get(symbol)
    low = min(f.price_milli for f in fills)
    high = max(f.price_milli for f in fills)
    text = domain.format_price(low, instrument)
    return f"@ {text}" if low == high else f"@ {text}-{domain.format_price(high, instrument)}"


def step_command(order: store.Order, step: str) -> Message | None:
    """The command an order's step sends (none while it rests on the market)."""
    if step == sagas.RESERVE:
        left = order.quantity - order.filled_quantity
        part = f" (the unfilled {left} of {order.quantity})" if order.filled_quantity else ""
        return acc.ReserveFunds(
            account_id=order.account_id,
            hold_id=hold_id(order.id, order.leg),
            amount_minor=order.reserved_minor,
            reference=f"securities buy {left} {order.symbol}{part} (order {order.id})",
            # Buying shares keeps the money the customer's; it is not a payment out.
            counts_toward_limit=False,
            # A resting order holds its cash until it fills, is cancelled or its day ends.
            expires_at=end_of_bank_day(order.bank_day),
        )
    if step == sagas.RELEASE:
        return acc.ReleaseHold(account_id=order.account_id, hold_id=hold_id(order.id, order.leg))
    if step not in (sagas.CAPTURE, sagas.CREDIT):
        return None
    fills = pending_fills(order)
    if not fills:
        raise ValueError(f"order {order.id} settles a fill it does not have")
    total = batch_total(fills)
    # Prices at the instrument's tick: 2 decimals for shares, 3 for funds.
    what = f"{total.quantity} {order.symbol} {prices_text(fills, order.symbol)}"
    if step == sagas.CAPTURE:
        return acc.CaptureHold(
            account_id=order.account_id,
            hold_id=hold_id(order.id, order.leg),
            target_account_id=SETTLEMENT,
            amount_minor=total.amount_minor,
            description=f"Buy {what}",
            statement=_order_text(order, LineKind.SECURITIES_BUY, f"Buy {what}"),
        )
    return acc.CreditAccount(
        account_id=order.account_id,
        credit_id=credit_id(order.id, order.leg),
        source_account_id=PROCEEDS,
        amount_minor=total.amount_minor,
        description=f"Sell {what}",
        statement=_order_text(order, LineKind.SECURITIES_SELL, f"Sell {what}"),
    )


def _order_text(order: store.Order, kind: LineKind, description: str) -> acc.StatementText:
    return acc.StatementText(
        reference_kind=ReferenceKind.ORDER,
        reference_id=order.id,
        debit_kind=kind,
        debit_description=description,
        credit_kind=kind,
        credit_description=description,
    )


def transfer_command(transfer: store.BankTransfer) -> acc.TransferFunds:
    to_securities = transfer.direction == "bank_to_securities"
    label = "Bank to securities" if to_securities else "Securities to bank"
    source, target = ("bank", "securities") if to_securities else ("securities", "bank")
    return acc.TransferFunds(
        account_id=transfer.from_account_id,
        transfer_id=transfer_command_id(transfer.id),
        to_account_id=transfer.to_account_id,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        description=f"{label} transfer",
        statement=acc.StatementText(
            reference_kind=ReferenceKind.BANK_TRANSFER,
            reference_id=transfer.id,
            debit_kind=LineKind.SECURITIES_TRANSFER,
            debit_description=f"Transfer to your {target} account",
            credit_kind=LineKind.SECURITIES_TRANSFER,
            credit_description=f"Transfer from your {source} account",
        ),
        counts_toward_limit=False,
    )


def order_event(kind: type[ev.OrderEvent], order: store.Order, **extra: object) -> ev.OrderEvent:
    return kind(order_id=order.id, customer_id=order.customer_id, symbol=order.symbol, side=order.side, **extra)  # type: ignore[arg-type]


def cancelled_event(order: store.Order, released_minor: int) -> ev.OrderEvent:
    return order_event(ev.OrderCancelled, order, reason=order.reason or sagas.CUSTOMER, released_minor=released_minor)


def execution_event(
    kind: type[ev.OrderMatched], order: store.Order, fill: domain.Fill, **extra: object
) -> ev.OrderEvent:
    """A batch matched or settled (`fill` its total), or the whole order filled (`fill`
    the total of all its parts)."""
    return order_event(
        kind,
        order,
        quantity=fill.quantity,
        price_milli=fill.price_milli,
        gross_minor=fill.gross_minor,
        commission_minor=fill.commission_minor,
        stamp_duty_minor=fill.stamp_duty_minor,
        amount_minor=fill.amount_minor,
        **extra,
    )


def transfer_event(kind: type[ev.BankTransferEvent], t: store.BankTransfer, **extra: object) -> ev.BankTransferEvent:
    return kind(
        transfer_id=t.id,
        customer_id=t.customer_id,
        direction=t.direction,  # type: ignore[arg-type]
        from_account_id=t.from_account_id,
        to_account_id=t.to_account_id,
        amount_minor=t.amount_minor,
        currency=t.currency,
        **extra,
    )


def price_alert(alert: domain.Alert) -> ev.PriceAlerted:
    return ev.PriceAlerted(
        symbol=alert.instrument.symbol,
        name=alert.instrument.name,
        direction=alert.direction,  # type: ignore[arg-type]
        threshold_bp=alert.threshold_bp,
        change_bp=alert.change_bp,
        last_price_milli=alert.last,
        prev_close_milli=alert.prev_close,
        bank_day=alert.day.isoformat() if alert.day else "",
    )
