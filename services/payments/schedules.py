"""Scheduled transfers and standing orders: the routes that set them up, and the runner
that makes their payments on the sandbox clock.

A schedule is a transfer the customer approves once, to run on later bank days (Beijing
time, `Clock.bank_day`). The runner, a background task of the payments process, looks
every half second for schedules with a run due and starts each run as an ordinary
payment saga through the same `Starter` the API uses, under an Idempotency-Key made of
the schedule's id and the run's day: however often it looks, and whichever process
looks, a run makes one payment. Rules the runner keeps:

- Missed runs: when the clock jumps several days, each missed run is made once, oldest
  first (`schedule_rules.due_runs`).
- A run that cannot start (the payer account is gone, a per-payment limit) is recorded
  as failed with the reason; a run whose payment fails (insufficient funds, risk, a
  daily limit) shows the payment's reason. Either way the schedule carries on with its
  next run: it does not pause after failures.
- Step-up: a schedule is approved when it is made, and the runner's payments are the
  bank's, started on that approval, not requests from a phone. Schedules are limited to
  amounts that would not need a one-time code; a larger one is refused at creation
  (422 `schedule-needs-step-up`).
- New devices: a schedule outlives the session that made it and its runs have no device
  to hold to the new-device limits, so a device signed in less than a day ago cannot set
  one up (422 `schedule-needs-trusted-device`); it can cancel one. Runs of a schedule set
  up from a trusted device are the bank's and meet the class's limits only.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date

from fastapi import APIRouter, Response
from sqlalchemy import Date, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments import domain, handlers, store
from services.payments.api import LOOKUPS_SPENT, named_payee, payer_account, step_up_reason, with_current_class
from services.payments.deps import AccountsDep, ContextDep, LookupsDep, RuntimeDep
from services.payments.domain import Kind, PaymentRejected
from services.payments.schedule_rules import Repeat, due_runs, next_run
from shared.accounts_client import AccountsClient
from shared.auth import CurrentCustomer
from shared.db import QuickSelect
from shared.idempotency import IdempotencyKey, create_once
from shared.kafka.messaging import UnitOfWork
from shared.money import format_minor
from shared.observability import correlation_id_var
from shared.pagination import SmallPageDep, newest_first, next_keyset
from shared.problems import PROBLEM, not_found
from shared.runtime import Runtime
from shared.schemas.payments import Payee, ScheduleCreate, SchedulePage, SchedulePublic, ScheduleRunPublic
from shared.stepup import StepUpPolicy

log = logging.getLogger(__name__)

ACTIVE, FINISHED, CANCELLED = "active", "finished", "cancelled"
RUNS_SHOWN = 100

router = APIRouter(prefix="/v1/payments/schedules", tags=["payments"])


def run_key(schedule_id: str, run_on: date) -> str:
    """The Idempotency-Key of one run's payment: one payment per schedule and day."""
    return f"schedule:{schedule_id}:{run_on.isoformat()}"


def public(s: store.Schedule, runs: list[ScheduleRunPublic] | None = None) -> SchedulePublic:
    return SchedulePublic(
        id=s.id,
        status=s.status,  # type: ignore[arg-type]
        payer_account_id=s.payer_account_id,
        payee=Payee(
            kind="account",
            label=s.payee_label,
            # Named by phone: the number is shown, not the account it pays into (as for payments).
            account_id=None if s.reference else s.payee_account_id,
            reference=s.reference,
        ),
        amount=format_minor(s.amount_minor, s.currency),
        amount_minor=s.amount_minor,
        currency=s.currency,
        note=s.note,
        repeat=s.repeat,  # type: ignore[arg-type]
        first_run_on=s.first_run_on,
        end_on=s.end_on,
        count=s.count,
        runs_made=s.runs_made,
        next_run_on=s.next_run_on,
        created_at=s.created_at,
        cancelled_at=s.cancelled_at,
        runs=runs or [],
        links={"self": f"/v1/payments/schedules/{s.id}"},
    )


async def _runs(runtime: Runtime, schedule_id: str) -> list[ScheduleRunPublic]:
    """A schedule's runs, newest first, each with its payment's status."""
    table = store.payment_table
    query = (
        select(store.ScheduleRun, table.c.outcome, table.c.reason, table.c.detail)
        .outerjoin(table, table.c.id == store.ScheduleRun.payment_id)
        .where(store.ScheduleRun.schedule_id == schedule_id)
        .order_by(store.ScheduleRun.run_on.desc())
        .limit(RUNS_SHOWN)
    )
    async with runtime.db.read() as session:
        found = (await session.execute(query)).all()
    return [
        ScheduleRunPublic(
            run_on=run.run_on,
            status="failed" if run.payment_id is None else (outcome or "pending"),
            payment_id=run.payment_id,
            reason=run.reason if run.payment_id is None else reason,
            detail=run.detail if run.payment_id is None else detail,
        )
        for run, outcome, reason, detail in found
    ]


# --- setting a schedule up ------------------------------------------------------------------


def _calendar(body: ScheduleCreate, today: date) -> None:
    if body.first_run_on < today:
        raise PaymentRejected("invalid-schedule", f"first_run_on must be today ({today.isoformat()}) or later")
    if body.end_on is not None and body.end_on < body.first_run_on:
        raise PaymentRejected("invalid-schedule", "end_on must not be before first_run_on")
    if body.repeat == Repeat.NONE.value and (body.end_on is not None or body.count is not None):
        raise PaymentRejected("invalid-schedule", "a one-off scheduled transfer takes no end_on or count")


@router.post(
    "",
    status_code=201,
    response_model=SchedulePublic,
    responses={403: PROBLEM, 404: PROBLEM, 422: PROBLEM, **LOOKUPS_SPENT},
)
async def create_schedule(
    body: ScheduleCreate,
    principal: CurrentCustomer,
    key: IdempotencyKey,
    runtime: RuntimeDep,
    ctx: ContextDep,
    directory: AccountsDep,
    lookups: LookupsDep,
) -> Response:
    """Schedule a transfer to an account (by account id or the payee's phone) on a later
    bank day, once (`repeat: none`) or as a standing order: `daily`, `weekly` or `monthly`
    (on the first run's day of the month, or the month's last day when it is shorter),
    until `end_on` or for `count` runs. Each run is an ordinary payment, made on its day
    on the sandbox clock. Limited to amounts that need no one-time code (422
    `schedule-needs-step-up`), and to trusted devices: from a device signed in less than a
    day ago the answer is 422 `schedule-needs-trusted-device`. A payee not met before
    spends a payee look-up, as a transfer's does (429 past the allowance)."""
    domain.check_schedule_device(principal.new_device_until, ctx.clock.now())
    if body.currency != "CNY":
        raise PaymentRejected("unsupported-currency", f"currency {body.currency!r} is not supported; use CNY")
    amount = domain.minor_from_decimal(body.amount)
    _calendar(body, ctx.clock.bank_day())
    payee = await named_payee(ctx, runtime, lookups, directory, principal.customer_id, body)
    payee_account, payee_customer, label, reference = payee.account_id, payee.customer_id, payee.label, payee.reference
    payer = await payer_account(directory, runtime, principal, body.payer_account_id)
    if payee_account == payer.id:
        raise PaymentRejected("same-account", "the payer and payee accounts are the same")
    domain.check_per_payment_limit(amount, payer.kyc_class, ctx.saga.policy)
    payee_key = payee.key
    policy = StepUpPolicy.of(runtime.settings.auth)
    reason = await step_up_reason(ctx, runtime, policy, principal.customer_id, payee, amount, is_transfer=True)
    if reason is not None:
        raise PaymentRejected(
            "schedule-needs-step-up",
            "scheduled transfers are limited to amounts that need no one-time code: send this one "
            "as a transfer now, or schedule a smaller amount",
        )
    now = ctx.clock.now()
    repeat = Repeat(body.repeat)

    async def create(uow: UnitOfWork) -> tuple[store.Schedule, bool]:
        session = uow.session
        existing = await _by_key(session, principal.customer_id, key)
        if existing is not None:
            return existing, False
        schedule = store.Schedule(
            id=str(uuid.uuid4()),
            customer_id=principal.customer_id,
            idempotency_key=key,
            payer_account_id=payer.id,
            payee_account_id=payee_account,
            payee_customer_id=payee_customer,
            payee_key=payee_key,
            payee_label=label,
            reference=reference,
            note=body.note,
            amount_minor=amount,
            currency=body.currency,
            repeat=repeat.value,
            first_run_on=body.first_run_on,
            end_on=body.end_on,
            count=body.count,
            runs_made=0,
            next_run_on=next_run(body.first_run_on, repeat, 0, end_on=body.end_on, count=body.count),
            status=ACTIVE,
            correlation_id=correlation_id_var.get(),
            created_at=now,
            updated_at=now,
        )
        session.add(schedule)
        await session.flush()
        return schedule, True

    schedule, _ = await create_once(runtime, create, _by_key, principal.customer_id, key)
    shown = public(schedule)
    return Response(
        shown.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"location": shown.links["self"]},
    )


async def _by_key(session: AsyncSession, customer_id: str, key: str) -> store.Schedule | None:
    return await session.scalar(
        select(store.Schedule).where(store.Schedule.customer_id == customer_id, store.Schedule.idempotency_key == key)
    )


@router.get("", response_model=SchedulePage)
async def list_schedules(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    page: SmallPageDep,
) -> SchedulePage:
    """The customer's scheduled transfers and standing orders, newest first (without their
    runs: see each one's `links.self`)."""
    query = select(store.Schedule).where(store.Schedule.customer_id == principal.customer_id)
    async with runtime.db.read() as session:
        rows = list(
            (await session.scalars(newest_first(query, store.Schedule, page.cursor, page.limit, of="schedules"))).all()
        )
    return SchedulePage(
        items=[public(s) for s in rows[: page.limit]], next_cursor=next_keyset(rows, page.limit, of="schedules")
    )


async def _own(runtime: Runtime, principal_customer: str, schedule_id: str) -> store.Schedule:
    async with runtime.db.read() as session:
        schedule = await session.get(store.Schedule, schedule_id)
    if schedule is None or schedule.customer_id != principal_customer:
        raise not_found("schedule", schedule_id)
    return schedule


@router.get("/{schedule_id}", response_model=SchedulePublic, responses={404: PROBLEM})
async def get_schedule(schedule_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> SchedulePublic:
    """One schedule: its next run's day and the payments its runs made, newest first."""
    schedule = await _own(runtime, principal.customer_id, schedule_id)
    return public(schedule, await _runs(runtime, schedule.id))


@router.delete("/{schedule_id}", response_model=SchedulePublic, responses={404: PROBLEM})
async def cancel_schedule(
    schedule_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> SchedulePublic:
    """Cancel a schedule: no further runs are made (a payment a run already started goes
    on). Cancelling again, or a finished schedule, answers it as it is."""
    await _own(runtime, principal.customer_id, schedule_id)
    async with runtime.unit_of_work() as uow:
        schedule = await uow.session.get(store.Schedule, schedule_id, with_for_update=True)
        if schedule is None:
            raise not_found("schedule", schedule_id)
        if schedule.status == ACTIVE:
            now = ctx.clock.now()
            schedule.status, schedule.next_run_on = CANCELLED, None
            schedule.cancelled_at = schedule.updated_at = now
    return public(schedule, await _runs(runtime, schedule_id))


# --- the runner -----------------------------------------------------------------------------


class ScheduleRunner:
    """Makes the runs that are due on the sandbox clock's bank day; `tick` is run every
    half second by the runtime, so moving the clock forward is acted on at once."""

    def __init__(
        self,
        ctx: handlers.Context,
        runtime: Runtime,
        starter: handlers.Starter,
        directory: AccountsClient,
        *,
        limit: int = 100,
    ) -> None:
        self.ctx, self.runtime, self.starter, self.directory = ctx, runtime, starter, directory
        self.limit = limit
        # The look of every tick, twice a second all day: without a session, which cost
        # more than the indexed look itself (shared.db.QuickSelect).
        self._due = QuickSelect(
            runtime.db,
            select(store.Schedule.id)
            .where(store.Schedule.status == ACTIVE, store.Schedule.next_run_on <= bindparam("today", type_=Date()))
            .order_by(store.Schedule.next_run_on)
            .limit(limit),
        )

    async def tick(self) -> int:
        """One look at every active schedule with a run due; returns how many runs it made."""
        today = self.ctx.clock.bank_day()
        due = [row[0] for row in await self._due.all(today=today)]
        made = 0
        for schedule_id in due:
            try:
                made += await self.catch_up(schedule_id, today)
            except Exception:
                # E.g. accounts did not answer: this schedule's run waits for the next look.
                log.exception("schedule %s: its due run could not be made; trying again", schedule_id)
        return made

    async def catch_up(self, schedule_id: str, today: date) -> int:
        """Each run of the schedule due by `today`, oldest first."""
        made = 0
        while True:
            async with self.runtime.db.read() as session:
                s = await session.get(store.Schedule, schedule_id)
            if s is None or s.status != ACTIVE:
                return made
            runs = due_runs(s.first_run_on, Repeat(s.repeat), s.runs_made, today, end_on=s.end_on, count=s.count)
            if not runs or not await self.run(s, runs[0]):
                return made
            made += 1

    async def run(self, s: store.Schedule, run_on: date) -> bool:
        """Start the run's payment (once: its key names the schedule and the day), record
        it and move the schedule on. False when another runner recorded it first."""
        payment_id: str | None = None
        reason = detail = None
        try:
            payment = await self.starter.start(await self._draft(s, run_on), s.correlation_id)
            payment_id = payment.id
        except PaymentRejected as refused:
            reason, detail = refused.code, str(refused)
            log.info("schedule %s: the run of %s was refused: %s", s.id, run_on, detail)
        now = self.ctx.clock.now()
        try:
            async with self.runtime.unit_of_work() as uow:
                current = await uow.session.get(store.Schedule, s.id, with_for_update=True)
                if current is None or current.runs_made != s.runs_made:
                    return False
                uow.session.add(
                    store.ScheduleRun(
                        schedule_id=s.id,
                        run_on=run_on,
                        payment_id=payment_id,
                        reason=reason,
                        detail=detail,
                        created_at=now,
                    )
                )
                current.runs_made += 1
                current.updated_at = now
                if current.status == ACTIVE:
                    current.next_run_on = next_run(
                        current.first_run_on,
                        Repeat(current.repeat),
                        current.runs_made,
                        end_on=current.end_on,
                        count=current.count,
                    )
                    if current.next_run_on is None:
                        current.status = FINISHED
        except IntegrityError:
            return False
        return True

    async def _draft(self, s: store.Schedule, run_on: date) -> handlers.Draft:
        """The run's payment, with the payer as accounts knows it today."""
        payer = await self.directory.account(s.payer_account_id)
        if payer is None or payer.customer_id != s.customer_id:
            raise PaymentRejected("payer-account-gone", f"the account {s.payer_account_id} is no longer yours")
        payer = await with_current_class(self.runtime, payer)
        domain.check_per_payment_limit(s.amount_minor, payer.kyc_class, self.ctx.saga.policy)
        return handlers.Draft(
            kind=Kind.TRANSFER,
            customer_id=s.customer_id,
            idempotency_key=run_key(s.id, run_on),
            payer_account_id=payer.id,
            payer_class=payer.kyc_class,
            payer_label=payer.holder,
            payee_account_id=s.payee_account_id,
            payee_customer_id=s.payee_customer_id,
            payee_key=s.payee_key,
            payee_label=s.payee_label,
            amount_minor=s.amount_minor,
            currency=s.currency,
            reference=s.reference,
            note=s.note,
        )


routers = [router]
