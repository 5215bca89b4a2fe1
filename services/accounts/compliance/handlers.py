"""The AML module's use cases: each ledger fact in becomes the movements of the customers'
accounts it touched, the rules run over each customer's recent movements, and what they
find is staged as alerts in the same unit of work (with their events, through the outbox).
The facts of one consumer transaction share a working set (store.ComplianceBatch).
A reviewer takes an alert and decides it; `reported` files a report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select, update

from services.accounts.compliance import rules, store
from services.accounts.compliance.rules import Direction, Finding, Kind, Movement, Thresholds
from services.accounts.compliance.store import Account, ComplianceBatch, ComplianceTables
from shared.clock import Clock
from shared.errors import DomainError
from shared.events import accounts as ev
from shared.events.envelope import Envelope, new_id
from shared.kafka.consumer import Handler
from shared.kafka.messaging import UnitOfWork

CASH_IN = "internal:cash-in"
SECURITIES_CASH = "securities_cash"
# What a movement is, by the internal account on its other side.
INTERNAL_KINDS = {
    "internal:biller-settlement": Kind.BILL,
    "internal:merchant-settlement": Kind.QR,
    "internal:topup-settlement": Kind.TOPUP,
    "internal:securities-settlement": Kind.SECURITIES,
    "internal:securities-proceeds": Kind.SECURITIES,
    "internal:insurance-premiums": Kind.INSURANCE,
    "internal:insurance-claims": Kind.INSURANCE,
}
# Opening balances of the sandbox's demo customers are seed data, not cash brought in.
SEED_CREDIT = "seed:"

OPEN, UNDER_REVIEW, REPORTED, DISMISSED = "open", "under_review", "reported", "dismissed"


@dataclass
class Compliance:
    tables: ComplianceTables
    thresholds: Thresholds
    clock: Clock
    sandbox: bool


class AlertNotFound(DomainError):
    code = "not-found"


class AlertTaken(DomainError):
    """Another reviewer has it, or it is closed."""

    code = "alert-taken"


class AlertNotUnderReview(DomainError):
    code = "alert-not-under-review"


# The module's domain errors as HTTP statuses (added to the accounts API's table).
ERROR_STATUSES: dict[type[DomainError], int] = {AlertNotFound: 404, AlertTaken: 409, AlertNotUnderReview: 409}


# --- the ledger's facts in ------------------------------------------------------------


async def when_account_opened(c: Compliance, batch: ComplianceBatch, envelope: Envelope, msg: ev.AccountOpened) -> None:
    if batch.accounts[msg.account_id] is not None:
        return  # opened again by a seed after a restart: the first opening stands
    batch.open(Account(msg.account_id, msg.customer_id, msg.kind, msg.currency, opened_at=envelope.time))


async def when_account_credited(
    c: Compliance, batch: ComplianceBatch, envelope: Envelope, msg: ev.AccountCredited
) -> None:
    if msg.credit_id.startswith(SEED_CREDIT):
        return
    await record(c, batch, envelope, msg.source_account_id, msg.account_id, msg.amount_minor, msg.currency)


async def when_hold_captured(c: Compliance, batch: ComplianceBatch, envelope: Envelope, msg: ev.HoldCaptured) -> None:
    await record(c, batch, envelope, msg.account_id, msg.target_account_id, msg.amount_minor, None)


async def when_funds_transferred(
    c: Compliance, batch: ComplianceBatch, envelope: Envelope, msg: ev.FundsTransferred
) -> None:
    await record(c, batch, envelope, msg.account_id, msg.to_account_id, msg.amount_minor, msg.currency)


def handlers(c: Compliance) -> dict[str, Handler]:
    reactions: dict[str, Any] = {
        ev.AccountOpened.TYPE: when_account_opened,
        ev.AccountCredited.TYPE: when_account_credited,
        ev.HoldCaptured.TYPE: when_hold_captured,
        ev.FundsTransferred.TYPE: when_funds_transferred,
    }

    def bind(fn: Any) -> Handler:
        async def handle(batch: ComplianceBatch, envelope: Envelope, message: Any) -> None:
            await fn(c, batch, envelope, message)

        return handle

    return {name: bind(fn) for name, fn in reactions.items()}


def kind_of(other_id: str, direction: Direction, same_customer: bool, other_is_customer: bool, kinds: set[str]) -> Kind:
    """What a movement with `other_id` on its other side was."""
    if other_id == CASH_IN:
        return Kind.CASH_DEPOSIT if direction is Direction.IN else Kind.CASH_WITHDRAWAL
    if other_id in INTERNAL_KINDS:
        return INTERNAL_KINDS[other_id]
    if other_is_customer:
        # Between the customer's own bank and securities cash accounts: bank-securities transfers.
        return Kind.SECURITIES if same_customer and SECURITIES_CASH in kinds else Kind.TRANSFER
    return Kind.OTHER


async def record(
    c: Compliance,
    batch: ComplianceBatch,
    envelope: Envelope,
    debited: str,
    credited: str,
    amount_minor: int,
    currency: str | None,
) -> None:
    """The movements one posting made on customers' accounts, and what the rules find.
    Each side is evaluated before either is recorded: neither is the other's history."""
    known = {a: account for a in (debited, credited) if (account := batch.accounts[a]) is not None}
    owner = {a: (known[a].customer_id if a in known else None) for a in (debited, credited)}
    kinds = {known[a].kind for a in (debited, credited) if a in known}
    if currency is None:
        currency = known[debited].currency if debited in known else rules.CNY
    same_customer = owner[debited] is not None and owner[debited] == owner[credited]
    sides = []
    for account_id, other_id, direction in ((debited, credited, Direction.OUT), (credited, debited, Direction.IN)):
        if owner[account_id] is None:
            continue  # an internal account (or one opened before this module listened)
        sides.append(
            Movement(
                id=f"{envelope.id}:{direction}",
                at=envelope.time,
                account_id=account_id,
                customer_id=owner[account_id],
                direction=direction,
                kind=kind_of(other_id, direction, same_customer, owner[other_id] is not None, kinds),
                amount_minor=amount_minor,
                currency=currency,
                counterparty_account_id=other_id,
                counterparty_customer_id=owner[other_id],
            )
        )
    for movement in sides:
        await _evaluate(c, batch, movement, known[movement.account_id].last_active_at)
    batch.recorded(sides)


async def _evaluate(c: Compliance, batch: ComplianceBatch, new: Movement, last_active: datetime) -> None:
    """The rules over the customer's recent movements, read only when a few sums of them
    (one aggregate query) say some rule could fire: most movements cost that query alone.
    When only many payers could (a transfer in), its few movements are all it reads; when
    only a magic amount's rule or dormant could, none. The customer's movements recorded
    earlier in the batch are written first, for those reads to see."""
    t = c.tables
    assert new.customer_id is not None
    await batch.flush(new.customer_id)
    signals = await store.signals(batch.uow.db, batch.tx, t, new, c.thresholds, batch.tallies)
    possible = rules.could_fire(new, signals, c.thresholds, sandbox=c.sandbox, account_last_active_at=last_active)
    if possible:
        history = await _history(c, batch.uow, new, rules.reads(new, possible, sandbox=c.sandbox), last_active)
        for finding in rules.evaluate(new, history, c.thresholds, sandbox=c.sandbox):
            if not await store.alert_exists(batch.uow.db, batch.tx, t, finding.key):
                await _raise(c, batch.uow, finding, new.at)
                await batch.cover(finding, new.at, new)


async def _history(
    c: Compliance, uow: UnitOfWork, new: Movement, reads: rules.Reads, last_active: datetime
) -> rules.History:
    """What the rules that could fire need of the customer's recent movements, and no more."""
    t = c.tables
    if reads is rules.Reads.NOTHING:
        return rules.History(account_last_active_at=last_active)
    if reads is rules.Reads.PAYERS:
        movements = await store.payments_into(uow.db, uow.transaction, t, new, c.thresholds)
        return rules.History(movements=movements, account_last_active_at=last_active)
    assert new.customer_id is not None
    since = new.at - c.thresholds.lookback
    return rules.History(
        movements=await store.movements_since(uow.session, t, new.customer_id, since),
        covered=await store.covered(uow.session, t, new.customer_id, since),
        account_last_active_at=last_active,
    )


async def _raise(c: Compliance, uow: UnitOfWork, finding: Finding, at: datetime) -> None:
    alert_id = new_id()
    category = rules.category(finding.rule)
    alert = {
        "id": alert_id,
        "rule": str(finding.rule),
        "category": category,
        "customer_id": finding.customer_id,
        "account_id": finding.account_id,
        "dedup_key": finding.key,
        "status": OPEN,
        "detail": finding.detail[:300],
        "total_minor": finding.total_minor,
        "currency": finding.movements[-1].currency,
        "forced": finding.forced,
        "evidence": [store.evidence_row(m) for m in finding.movements],
        "created_at": at,
    }
    await store.add_alert(uow.db, uow.transaction, c.tables, alert, store.covered_rows(alert_id, finding, at))
    uow.publish(
        ev.ComplianceAlertRaised(
            alert_id=alert_id,
            rule=str(finding.rule),
            category=category,  # type: ignore[arg-type]
            customer_id=finding.customer_id,
            account_id=finding.account_id,
            total_minor=finding.total_minor,
            currency=finding.movements[-1].currency,
            forced=finding.forced,
            movement_ids=[m.id for m in finding.movements],
        )
    )


# --- the reviewer's queue -------------------------------------------------------------


async def _alert(uow: UnitOfWork, t: ComplianceTables, alert_id: str) -> Any:
    row = (await uow.session.execute(select(t.alert).where(t.alert.c.id == alert_id))).first()
    if row is None:
        raise AlertNotFound(f"there is no alert {alert_id!r}")
    return row


async def take_for_review(c: Compliance, uow: UnitOfWork, alert_id: str, reviewer: str) -> None:
    """open -> under_review, by `reviewer`; taking one's own alert again changes nothing."""
    alert = await _alert(uow, c.tables, alert_id)
    if alert.status == UNDER_REVIEW and alert.reviewer == reviewer:
        return
    if alert.status != OPEN:
        raise AlertTaken(
            f"the alert is {alert.status.replace('_', ' ')}" + (f" by {alert.reviewer}" if alert.reviewer else "")
        )
    await uow.session.execute(
        update(c.tables.alert)
        .where(c.tables.alert.c.id == alert_id)
        .values(status=UNDER_REVIEW, reviewer=reviewer, review_started_at=c.clock.now())
    )


async def decide(
    c: Compliance, uow: UnitOfWork, alert_id: str, reviewer: str, decision: Literal["reported", "dismissed"], note: str
) -> None:
    """under_review -> reported (a report is filed) or dismissed, with the reviewer's note."""
    t = c.tables
    alert = await _alert(uow, t, alert_id)
    if alert.status != UNDER_REVIEW:
        raise AlertNotUnderReview(f"the alert is {alert.status.replace('_', ' ')}: take it for review first")
    if alert.reviewer != reviewer:
        raise AlertTaken(f"the alert is under review by {alert.reviewer}")
    now = c.clock.now()
    report_id = None
    if decision == REPORTED:
        report_id = new_id()
        await uow.session.execute(
            insert(t.report).values(
                id=report_id,
                alert_id=alert_id,
                kind=alert.category,
                rule=alert.rule,
                customer_id=alert.customer_id,
                account_id=alert.account_id,
                total_minor=alert.total_minor,
                currency=alert.currency,
                filed_by=reviewer,
                note=note,
                created_at=now,
            )
        )
    await uow.session.execute(
        update(t.alert)
        .where(t.alert.c.id == alert_id)
        .values(status=decision, decided_by=reviewer, decided_at=now, decision_note=note, report_id=report_id)
    )
    uow.publish(
        ev.ComplianceAlertDecided(
            alert_id=alert_id,
            rule=alert.rule,
            customer_id=alert.customer_id,
            decision=decision,
            decided_by=reviewer,
            report_id=report_id,
        )
    )
