"""accounts use cases: commands from Kafka, and the synchronous ones the API calls.

Every money movement is one unit of work: rule check, journal entry, balances and
the outgoing fact commit together. A command comes with its verified sender: a service
moves only its own internal accounts and settles only the holds it reserved; anything
else is refused (dead-lettered with the reason), not answered. Each command is idempotent twice over: the
consumer's inbox drops a redelivered message, and the command's business id (hold
id, credit id, transfer id) answers a re-sent command with the fact it already
produced instead of applying it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.accounts import domain, store
from shared.clock import Clock
from shared.errors import DomainError
from shared.events import REGISTRY, Message
from shared.events import accounts as ev
from shared.kafka.consumer import Handler, bind_handlers_with_sender
from shared.kafka.messaging import UnitOfWork
from shared.kafka.signing import UntrustedSender
from shared.sandbox import DEMO_CUSTOMERS
from shared.schemas.statements import LineKind, ReferenceKind

CASH_IN = "internal:cash-in"


@dataclass
class Context:
    clock: Clock = field(default_factory=Clock)
    limits: domain.ClassLimits = field(default_factory=domain.ClassLimits)


class DuplicatePhone(DomainError):
    code = "phone-taken"


class CustomerConflict(DomainError):
    code = "customer-conflict"


class TooManyAccounts(DomainError):
    code = "too-many-accounts"


MAX_ACCOUNTS_PER_CUSTOMER = 20


class SecuritiesAccountExists(DomainError):
    """A customer trades from one securities cash account: the brokerage knows no other,
    and money in a second could be neither traded nor moved back."""

    code = "securities-account-exists"


# --- commands from accounts.commands ----------------------------------------------------


def _entitled(sender: str, *account_ids: str, hold: domain.Hold | None = None) -> None:
    try:
        domain.check_entitled(sender, account_ids, hold)
    except domain.NotEntitled as refused:
        raise UntrustedSender(str(refused)) from None


async def reserve_funds(ctx: Context, ledger: store.LedgerBatch, cmd: ev.ReserveFunds, sender: str) -> None:
    """Place a hold, or reject it with a reason the saga can show the customer; with a
    `target_account_id`, capture it there at once (a re-sent one captures a hold that is
    still active: its first capture was refused)."""
    named = (cmd.account_id,) if cmd.target_account_id is None else (cmd.account_id, cmd.target_account_id)
    _entitled(sender, *named)
    existing = await store.get_hold(ledger, cmd.hold_id)
    _entitled(sender, hold=existing)
    if existing is not None:
        if cmd.target_account_id is not None and existing.status == domain.HoldStatus.ACTIVE:
            await _capture(ctx, ledger, existing, cmd.target_account_id, None, _reserved_text(cmd), cmd.statement)
            return
        account = await store.get_account(ledger, existing.account_id)
        available = account.available_minor if account else 0
        ledger.uow.publish(_hold_fact(existing, available=available))
        return
    now = ctx.clock.now()
    account = await store.get_account(ledger, cmd.account_id)
    hold = domain.Hold(
        id=cmd.hold_id,
        account_id=cmd.account_id,
        customer_id=account.customer_id if account else None,
        amount_minor=cmd.amount_minor,
        currency=cmd.currency,
        counts_toward_limit=cmd.counts_toward_limit,
        reference=cmd.reference[:200],
        expires_at=cmd.expires_at,
        created_at=now,
        updated_at=now,
        reserved_by=sender,
    )
    try:
        if account is None:
            raise _not_found(cmd.account_id)
        outflow = await _outflow_if_limited(ctx, ledger, account, cmd.counts_toward_limit)
        domain.reserve(account, hold, outflow_today_minor=outflow, limits=ctx.limits)
    except domain.LedgerError as err:
        hold.status, hold.reason, hold.detail = domain.HoldStatus.REJECTED, err.reason, err.detail
    store.add_hold(ledger, hold)
    if cmd.target_account_id is not None and hold.status == domain.HoldStatus.ACTIVE:
        await _capture(ctx, ledger, hold, cmd.target_account_id, None, _reserved_text(cmd), cmd.statement)
        return
    ledger.uow.publish(_hold_fact(hold, available=account.available_minor if account else 0))


def _reserved_text(cmd: ev.ReserveFunds) -> str:
    """The journal entry's description of a capture made with its reservation."""
    return cmd.statement.debit_description if cmd.statement is not None else ""


async def release_hold(ctx: Context, ledger: store.LedgerBatch, cmd: ev.ReleaseHold, sender: str) -> None:
    """Free a hold. A release for an unknown hold leaves a released tombstone, so a
    reservation arriving after its saga gave up cannot take funds nobody will free."""
    hold = await store.get_hold(ledger, cmd.hold_id)
    _entitled(sender, hold=hold)
    now = ctx.clock.now()
    if hold is None:
        hold = domain.Hold(
            id=cmd.hold_id,
            account_id=cmd.account_id,
            amount_minor=0,
            currency="CNY",
            status=domain.HoldStatus.RELEASED,
            counts_toward_limit=False,
            reason="hold_not_found",
            created_at=now,
            updated_at=now,
            reserved_by=sender,
        )
        store.add_hold(ledger, hold)
    elif hold.status == domain.HoldStatus.ACTIVE:
        accounts = await store.load_accounts(ledger, [hold.account_id])
        domain.release(accounts[hold.account_id], hold)
        hold.updated_at = now
    ledger.uow.publish(_hold_fact(hold))


async def capture_hold(ctx: Context, ledger: store.LedgerBatch, cmd: ev.CaptureHold, sender: str) -> None:
    """Post a held amount into the target account; release whatever is left."""
    _entitled(sender, cmd.target_account_id)
    hold = await store.get_hold(ledger, cmd.hold_id)
    _entitled(sender, hold=hold)
    if hold is None or hold.status != domain.HoldStatus.ACTIVE:
        if hold is not None and hold.status == domain.HoldStatus.CAPTURED:
            ledger.uow.publish(_hold_fact(hold))
            return
        status = hold.status if hold else "unknown"
        ledger.uow.publish(
            ev.CaptureRejected(
                account_id=cmd.account_id,
                hold_id=cmd.hold_id,
                target_account_id=cmd.target_account_id,
                reason="hold_not_found" if hold is None else "hold_not_active",
                detail=f"hold {cmd.hold_id} is {status}",
            )
        )
        return
    await _capture(ctx, ledger, hold, cmd.target_account_id, cmd.amount_minor, cmd.description, cmd.statement)


async def _capture(
    ctx: Context,
    ledger: store.LedgerBatch,
    hold: domain.Hold,
    target_account_id: str,
    amount_minor: int | None,
    description: str,
    statement: ev.StatementText | None,
) -> None:
    """Capture an active hold into `target_account_id`, and tell HoldCaptured; or tell
    CaptureRejected, the hold left as it was."""
    accounts = await store.load_accounts(ledger, [hold.account_id, target_account_id])
    target = accounts.get(target_account_id)
    try:
        if target is None:
            raise _not_found(target_account_id)
        source = accounts[hold.account_id]
        posting, released = domain.capture(source, target, hold, amount_minor, limits=ctx.limits)
    except domain.LedgerError as err:
        ledger.uow.publish(
            ev.CaptureRejected(
                account_id=hold.account_id,
                hold_id=hold.id,
                target_account_id=target_account_id,
                reason=err.reason,  # type: ignore[arg-type]
                detail=err.detail,
            )
        )
        return
    entry_id = _post(ctx, ledger, posting, accounts, "capture", hold.id, description or hold.reference, statement)
    captured = hold.amount_minor - released
    if hold.counts_toward_limit:
        await store.add_outflow(ledger, hold.customer_id, ctx.clock.bank_day(), captured)
    hold.target_account_id, hold.captured_minor = target.id, captured
    hold.entry_id, hold.updated_at = entry_id, ctx.clock.now()
    ledger.uow.publish(_hold_fact(hold))


def _post(
    ctx: Context,
    ledger: store.LedgerBatch,
    posting: domain.Posting,
    accounts: dict[str, domain.Account],
    kind: str,
    reference: str,
    description: str,
    statement: ev.StatementText | None = None,
) -> str:
    """Record a posting as a journal entry of the command `kind` with business id
    `reference`, carrying the correlation id of the request behind it; its entry id."""
    entry_id = str(uuid.uuid4())
    cause = ledger.uow.causation
    store.post(
        ledger,
        posting,
        accounts,
        entry_id=entry_id,
        kind=kind,
        reference=reference,
        description=description,
        correlation_id=cause.correlation_id if cause else None,
        now=ctx.clock.now(),
        statement=statement,
    )
    return entry_id


async def _replay(ledger: store.LedgerBatch, kind: str, reference: str) -> bool:
    """Answer a re-sent credit or transfer with the fact its id produced the first time."""
    done = await store.get_outcome(ledger, kind, reference)
    if done is None:
        return False
    ledger.uow.publish(REGISTRY[done.fact_type].model_validate(done.fact_data))
    return True


def _remember(ctx: Context, ledger: store.LedgerBatch, kind: str, reference: str, fact: Message) -> None:
    store.add_outcome(
        ledger,
        store.OutcomeRow(
            kind=kind,
            reference=reference,
            fact_type=fact.TYPE,
            fact_data=fact.model_dump(mode="json"),
            created_at=ctx.clock.now(),
        ),
    )
    ledger.uow.publish(fact)


async def credit_account(ctx: Context, ledger: store.LedgerBatch, cmd: ev.CreditAccount, sender: str) -> None:
    """Credit a customer from an internal account of the sender's (deposits, payouts, proceeds)."""
    _entitled(sender, cmd.source_account_id, cmd.account_id)
    await _credit(ctx, ledger, cmd)


async def _credit(ctx: Context, ledger: store.LedgerBatch, cmd: ev.CreditAccount) -> None:
    if await _replay(ledger, "credit", cmd.credit_id):
        return
    accounts = await store.load_accounts(ledger, [cmd.account_id, cmd.source_account_id])
    try:
        target = accounts.get(cmd.account_id)
        source = accounts.get(cmd.source_account_id)
        if target is None:
            raise _not_found(cmd.account_id)
        if source is None or source.customer_id is not None:
            raise domain.InvalidAmount(f"{cmd.source_account_id} is not an internal account")
        posting = domain.credit(source, target, cmd.amount_minor, cmd.currency, limits=ctx.limits)
    except domain.LedgerError as err:
        _remember(
            ctx,
            ledger,
            "credit",
            cmd.credit_id,
            ev.CreditRejected(
                account_id=cmd.account_id,
                credit_id=cmd.credit_id,
                source_account_id=cmd.source_account_id,
                amount_minor=cmd.amount_minor,
                reason=err.reason,  # type: ignore[arg-type]
                detail=err.detail,
            ),
        )
        return
    entry_id = _post(
        ctx, ledger, posting, accounts, "credit", cmd.credit_id, cmd.description or "credit", cmd.statement
    )
    _remember(
        ctx,
        ledger,
        "credit",
        cmd.credit_id,
        ev.AccountCredited(
            account_id=cmd.account_id,
            credit_id=cmd.credit_id,
            source_account_id=cmd.source_account_id,
            amount_minor=cmd.amount_minor,
            currency=cmd.currency,
            entry_id=entry_id,
            balance_minor=target.balance_minor,
        ),
    )


async def transfer_funds(ctx: Context, ledger: store.LedgerBatch, cmd: ev.TransferFunds, sender: str) -> None:
    """Move money between two accounts in one posting."""
    _entitled(sender, cmd.account_id, cmd.to_account_id)
    if await _replay(ledger, "transfer", cmd.transfer_id):
        return
    accounts = await store.load_accounts(ledger, [cmd.account_id, cmd.to_account_id])
    try:
        source = accounts.get(cmd.account_id)
        target = accounts.get(cmd.to_account_id)
        if source is None or target is None:
            raise _not_found(cmd.account_id if source is None else cmd.to_account_id)
        outflow = await _outflow_if_limited(ctx, ledger, source, cmd.counts_toward_limit)
        posting = domain.transfer(
            source,
            target,
            cmd.amount_minor,
            cmd.currency,
            outflow_today_minor=outflow,
            counts_toward_limit=cmd.counts_toward_limit and source.customer_id != target.customer_id,
            limits=ctx.limits,
        )
    except domain.LedgerError as err:
        _remember(
            ctx,
            ledger,
            "transfer",
            cmd.transfer_id,
            ev.TransferRejected(
                account_id=cmd.account_id,
                transfer_id=cmd.transfer_id,
                to_account_id=cmd.to_account_id,
                amount_minor=cmd.amount_minor,
                reason=err.reason,  # type: ignore[arg-type]
                detail=err.detail,
            ),
        )
        return
    entry_id = _post(
        ctx, ledger, posting, accounts, "transfer", cmd.transfer_id, cmd.description or "transfer", cmd.statement
    )
    if cmd.counts_toward_limit and source.customer_id != target.customer_id:
        await store.add_outflow(ledger, source.customer_id, ctx.clock.bank_day(), cmd.amount_minor)
    _remember(ctx, ledger, "transfer", cmd.transfer_id, _transferred(cmd, entry_id))


def command_handlers(ctx: Context) -> dict[str, Handler]:
    return bind_handlers_with_sender(
        ctx,
        {
            ev.ReserveFunds: reserve_funds,
            ev.ReleaseHold: release_hold,
            ev.CaptureHold: capture_hold,
            ev.CreditAccount: credit_account,
            ev.TransferFunds: transfer_funds,
        },
    )


async def _outflow_if_limited(ctx: Context, ledger: store.LedgerBatch, account: domain.Account, counts: bool) -> int:
    """Today's outflow, read only when a daily limit applies to this account."""
    if not counts or account.kyc_class is None or ctx.limits.daily_outflow_minor.get(account.kyc_class) is None:
        return 0
    return await store.outflow_today(ledger, account.customer_id, ctx.clock.bank_day())


# --- facts ------------------------------------------------------------------------------


def _not_found(account_id: str) -> domain.LedgerError:
    err = domain.LedgerError(f"account {account_id} does not exist")
    err.reason = "account_not_found"
    return err


def _hold_fact(row: domain.Hold, available: int = 0) -> Message:
    if row.status == domain.HoldStatus.REJECTED:
        return ev.ReservationRejected(
            account_id=row.account_id,
            hold_id=row.id,
            amount_minor=row.amount_minor,
            currency=row.currency,
            reason=row.reason,  # type: ignore[arg-type]
            detail=row.detail or "",
        )
    if row.status == domain.HoldStatus.RELEASED:
        return ev.HoldReleased(account_id=row.account_id, hold_id=row.id, amount_minor=row.amount_minor)
    if row.status == domain.HoldStatus.CAPTURED:
        return ev.HoldCaptured(
            account_id=row.account_id,
            hold_id=row.id,
            target_account_id=row.target_account_id or "",
            amount_minor=row.captured_minor or 0,
            released_minor=row.amount_minor - (row.captured_minor or 0),
            entry_id=row.entry_id or "",
        )
    return ev.FundsReserved(
        account_id=row.account_id,
        hold_id=row.id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        available_minor=available,
    )


def _transferred(cmd: ev.TransferFunds, entry_id: str) -> ev.FundsTransferred:
    return ev.FundsTransferred(
        account_id=cmd.account_id,
        transfer_id=cmd.transfer_id,
        to_account_id=cmd.to_account_id,
        amount_minor=cmd.amount_minor,
        currency=cmd.currency,
        entry_id=entry_id,
    )


# --- synchronous use cases (HTTP) -----------------------------------------------------------


async def register_customer(
    ctx: Context, uow: UnitOfWork, *, customer_id: str, phone: str, name: str, kyc_class: str
) -> store.Customer:
    """Create a customer profile; repeating the same registration returns it unchanged."""
    session = uow.session
    existing = await session.get(store.Customer, customer_id)
    if existing is not None:
        if existing.phone != phone:
            raise CustomerConflict(f"customer {customer_id} exists with another phone")
        return existing
    if await session.scalar(select(store.Customer.id).where(store.Customer.phone == phone)):
        raise DuplicatePhone("a customer with this phone number already exists")
    customer = store.Customer(id=customer_id, phone=phone, name=name, kyc_class=kyc_class, created_at=ctx.clock.now())
    session.add(customer)
    try:
        await session.flush()
    except IntegrityError:
        raise DuplicatePhone("a customer with this phone number already exists") from None
    uow.publish(ev.CustomerRegistered(customer_id=customer_id, phone=phone, name=name, kyc_class=kyc_class))
    return customer


async def open_account(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str | None,
    kind: str,
    currency: str = "CNY",
    name: str | None = None,
    account_id: str | None = None,
    allow_overdraft: bool = False,
) -> store.Account:
    session = uow.session
    if account_id and (existing := await session.get(store.Account, account_id)) is not None:
        return existing
    if customer_id is not None:
        kinds = (
            await session.scalars(select(store.Account.kind).where(store.Account.customer_id == customer_id))
        ).all()
        if len(kinds) >= MAX_ACCOUNTS_PER_CUSTOMER:
            raise TooManyAccounts(f"a customer may hold at most {MAX_ACCOUNTS_PER_CUSTOMER} accounts")
        if kind == domain.AccountKind.SECURITIES_CASH and domain.AccountKind.SECURITIES_CASH in kinds:
            raise SecuritiesAccountExists("you have a securities cash account already: trade and move money with it")
    account = store.Account(
        id=account_id or str(uuid.uuid4()),
        customer_id=customer_id,
        kind=kind,
        name=name or kind.replace("_", " ").title(),
        currency=currency,
        balance_minor=0,
        held_minor=0,
        allow_overdraft=allow_overdraft,
        created_at=ctx.clock.now(),
    )
    session.add(account)
    await session.flush()
    uow.publish(ev.AccountOpened(account_id=account.id, customer_id=customer_id, kind=kind, currency=currency))
    return account


async def seed(ctx: Context, uow: UnitOfWork, *, demo: bool) -> None:
    """Internal accounts always; demo customers with opening balances in sandbox mode."""
    for account_id, name in domain.INTERNAL_ACCOUNTS.items():
        await open_account(
            ctx,
            uow,
            customer_id=None,
            kind=domain.AccountKind.INTERNAL,
            name=name,
            account_id=account_id,
            allow_overdraft=True,
        )
    if not demo:
        return
    ledger = store.LedgerBatch(uow)
    for user in DEMO_CUSTOMERS:
        await register_customer(
            ctx, uow, customer_id=user.id, phone=user.phone, name=user.name, kyc_class=user.kyc_class
        )
        for acc in user.accounts:
            await open_account(ctx, uow, customer_id=user.id, kind=acc.kind, account_id=acc.id)
            # A data directory written before outcomes were kept has the opening entry
            # but no outcome to replay: the journal decides.
            if acc.opening_minor and not await store.entry_exists(uow.session, "credit", f"seed:{acc.id}"):
                await _credit(
                    ctx,
                    ledger,
                    ev.CreditAccount(
                        account_id=acc.id,
                        credit_id=f"seed:{acc.id}",
                        source_account_id=CASH_IN,
                        amount_minor=acc.opening_minor,
                        description="Opening balance",
                        statement=ev.StatementText(
                            reference_kind=ReferenceKind.OPENING,
                            reference_id=acc.id,
                            debit_kind=LineKind.OPENING_BALANCE,
                            debit_description=f"Opening balance of {acc.id}",
                            credit_kind=LineKind.OPENING_BALANCE,
                            credit_description="Opening balance",
                        ),
                    ),
                )
    await ledger.write()


# --- the invariant check (DESIGN.md section 5) --------------------------------------------


@dataclass
class Finding:
    rule: str
    detail: str
    account_id: str | None = None


async def active_holds(ctx: Context, session, *, limit: int) -> dict:
    """The holds that still reserve funds, oldest first, with the service that reserved
    each: the gateway's ledger check asks that service about the saga behind it."""
    from sqlalchemy import func

    active = store.Hold.status == domain.HoldStatus.ACTIVE
    now = ctx.clock.now()
    total = await session.scalar(select(func.count()).select_from(store.Hold).where(active))
    holds = (await session.scalars(select(store.Hold).where(active).order_by(store.Hold.created_at).limit(limit))).all()
    return {
        "checked_at": now,
        "total": int(total or 0),
        "items": [
            {
                "id": h.id,
                "account_id": h.account_id,
                "reserved_by": h.reserved_by,
                "reference": h.reference,
                "amount_minor": h.amount_minor,
                "currency": h.currency,
                "created_at": h.created_at,
                "expires_at": h.expires_at,
            }
            for h in holds
        ],
    }


async def check_ledger(ctx: Context, session, *, stale_after_s: int = 600) -> dict:
    """Every rule of the ledger, checked against the whole database."""
    from sqlalchemy import func

    findings: list[Finding] = []
    totals: dict[str, int] = {}
    accounts = (await session.execute(select(store.Account))).scalars().all()
    line_sums = dict(
        (
            await session.execute(
                select(store.JournalLine.account_id, func.sum(store.JournalLine.amount_minor)).group_by(
                    store.JournalLine.account_id
                )
            )
        ).all()
    )
    held_sums = dict(
        (
            await session.execute(
                select(store.Hold.account_id, func.sum(store.Hold.amount_minor))
                .where(store.Hold.status == domain.HoldStatus.ACTIVE)
                .group_by(store.Hold.account_id)
            )
        ).all()
    )
    for a in accounts:
        totals[a.currency] = totals.get(a.currency, 0) + a.balance_minor
        if int(line_sums.get(a.id) or 0) != a.balance_minor:
            findings.append(
                Finding(
                    "balance_matches_journal",
                    f"balance {a.balance_minor} but journal sums to {line_sums.get(a.id) or 0}",
                    a.id,
                )
            )
        if int(held_sums.get(a.id) or 0) != a.held_minor:
            findings.append(
                Finding(
                    "held_matches_holds",
                    f"held {a.held_minor} but active holds sum to {held_sums.get(a.id) or 0}",
                    a.id,
                )
            )
        if not a.allow_overdraft and a.balance_minor - a.held_minor < 0:
            findings.append(
                Finding("available_not_negative", f"available balance {a.balance_minor - a.held_minor}", a.id)
            )
    for currency, total in totals.items():
        if total != 0:
            findings.append(Finding("sum_of_balances_zero", f"{currency} balances sum to {total}"))
    unbalanced = (
        await session.execute(
            select(store.JournalLine.entry_id, store.JournalLine.currency, func.sum(store.JournalLine.amount_minor))
            .group_by(store.JournalLine.entry_id, store.JournalLine.currency)
            .having(func.sum(store.JournalLine.amount_minor) != 0)
        )
    ).all()
    for entry_id, currency, total in unbalanced:
        findings.append(Finding("entry_balanced", f"entry {entry_id} {currency} lines sum to {total}"))
    now_ts = ctx.clock.now().timestamp()
    active = (
        (await session.execute(select(store.Hold).where(store.Hold.status == domain.HoldStatus.ACTIVE))).scalars().all()
    )
    for hold in active:
        due = (hold.expires_at or hold.created_at + timedelta(seconds=stale_after_s)).timestamp()
        if due < now_ts:
            findings.append(
                Finding(
                    "hold_belongs_to_live_saga",
                    f"hold {hold.id} ({hold.reference}) outlived its saga's deadline: the saga is not finishing",
                    hold.account_id,
                )
            )
    entries = await session.scalar(select(func.count()).select_from(store.JournalEntry))
    return {
        "ok": not findings,
        "checked_at": ctx.clock.now().isoformat(),
        "accounts_checked": len(accounts),
        "entries_checked": int(entries or 0),
        "active_holds": len(active),
        "totals_minor": totals,
        "violations": [f.__dict__ for f in findings],
    }
