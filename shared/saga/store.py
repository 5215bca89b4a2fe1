"""The saga primitive's persistent half: the columns every saga row has, and the one
sweeper that acts on deadlines.

A service mixes `SagaColumns` into each table whose rows are sagas (a payment, a
deposit, an order, a policy's premium), so every saga in Sandbank has the same row shape
and the same vocabulary (`shared.saga.model`). The service's `SagaSweeper` looks, on
the sandbox clock, for sagas whose step heard nothing by its deadline and hands them to
their kind's handler, which asks the kind's decider what to do (re-send, compensate,
give up) and carries it out in the sweeper's unit of work.

The same tables answer operators (shared/internal.py): which sagas are past their
deadline (`stuck_sagas`), and which saga stands behind a hold accounts keeps
(`sagas_holding`, for the ledger check).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, func, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import Clock
from shared.db import Database, QuickSelect, UtcDateTime
from shared.kafka.messaging import UnitOfWork
from shared.observability import correlation_id_var
from shared.runtime import Runtime, every
from shared.schemas.sagas import SagaState, StuckKind
from shared.tracing import Tracing

log = logging.getLogger(__name__)


class SagaColumns:
    """The columns of `shared.saga.model.Saga`, for a declarative model to mix in."""

    kind: Mapped[str] = mapped_column(String(20))
    # The command in flight, whose answer the saga waits for; None once it has ended.
    step: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # On the sandbox clock; None when nothing is awaited.
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    # The request that started the saga: what it sends later carries it too.
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Messages published inside carry the correlation id of the saga's request, also
    when a sweeper or another service's fact moves it."""
    token = correlation_id_var.set(correlation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(token)


OnOverdue = Callable[[UnitOfWork, Sequence[str], datetime], Awaitable[None]]


def _every_saga(_saga: Any) -> bool:
    return True


@dataclass(frozen=True)
class Holds:
    """How accounts knows the hold a table's sagas reserve: `prefix` + the saga's id, for
    the sagas `when` says hold money (a buy order does, a sell order does not)."""

    prefix: str = ""
    when: Callable[[Any], bool] = _every_saga

    def hold_id(self, saga: Any) -> str | None:
        return self.prefix + saga.id if self.when(saga) else None

    def saga_id(self, hold_id: str) -> str | None:
        return hold_id[len(self.prefix) :] if hold_id.startswith(self.prefix) else None


@dataclass(frozen=True)
class SagaTable:
    """A table of sagas, and the handler that decides for those past their deadline.
    The handler gets their ids, loads them locked, checks each is still overdue (a
    fact may have moved it since) and carries out its decider's `on_deadline`.
    `holds`: how its sagas' holds are named at accounts, for those that hold money."""

    model: Any  # a mapped class with SagaColumns and an `id` column
    on_overdue: OnOverdue
    holds: Holds | None = None


class SagaSweeper:
    """The one sweeper of a service's sagas, run every `interval_s` by the runtime. On
    PostgreSQL each pass claims its overdue sagas (`claim`), so replicas share the work."""

    def __init__(
        self,
        db: Database,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        tables: Sequence[SagaTable],
        *,
        limit: int = 200,
        tracing: Tracing | None = None,
    ) -> None:
        self.tracing = tracing
        self.db = db
        self.unit_of_work = unit_of_work
        self.clock = clock
        self.tables = list(tables)
        self.limit = limit
        # Each table's look for overdue sagas, once a second all day: without a session
        # (shared.db.QuickSelect), which on an idle stack cost more than the look itself.
        self._overdue = {
            id(table): QuickSelect(
                db,
                select(table.model.id)
                .where(table.model.deadline_at < bindparam("now", type_=UtcDateTime()))
                .order_by(table.model.deadline_at)
                .limit(limit),
            )
            for table in self.tables
        }

    async def overdue(self, table: SagaTable, now: datetime) -> list[str]:
        return [row[0] for row in await self._overdue[id(table)].all(now=now)]

    async def sweep(self) -> int:
        """One pass over every table; returns how many sagas were handed on."""
        now = self.clock.now()
        handed = 0
        for table in self.tables:
            ids = await self.overdue(table, now)
            if not ids:
                continue
            # A span of its own: the retries, compensations and outcomes the deadlines cause
            # are its events, and the commands they send continue its trace.
            with self._span(table, ids):
                async with self.unit_of_work() as uow:
                    if not self.db.sqlite:
                        ids = await self.claim(uow, table, now)
                    if ids:
                        await table.on_overdue(uow, ids, now)
            handed += len(ids)
        return handed

    async def claim(self, uow: UnitOfWork, table: SagaTable, now: datetime) -> list[str]:
        """The overdue sagas no other transaction holds, locked until the unit of work
        ends. On PostgreSQL several replicas sweep the same table (ADR 0018): `SKIP
        LOCKED` leaves a saga another replica's sweeper (or a fact's handler) is moving
        to it and takes the next ones, so a deadline's step is carried out once, the
        replicas share the overdue sagas, and no sweeper waits on another."""
        model = table.model
        found = await uow.session.scalars(
            select(model.id)
            .where(model.deadline_at < now)
            .order_by(model.deadline_at)
            .limit(self.limit)
            .with_for_update(skip_locked=True)
        )
        return list(found.all())

    def _span(self, table: SagaTable, ids: Sequence[str]) -> Any:
        if self.tracing is None:
            return nullcontext()
        return self.tracing.span(
            "saga timeouts",
            attributes={"saga.table": str(getattr(table.model, "__tablename__", "")), "saga.overdue": len(ids)},
        )


def sweep_sagas(runtime: Runtime, tables: Sequence[SagaTable], *, every_s: float = 1.0) -> SagaSweeper:
    """The process's one saga sweeper over `tables`, on its sandbox clock, run by its
    runtime every `every_s` seconds."""
    sweeper = SagaSweeper(runtime.db, runtime.unit_of_work, runtime.clock, tables, tracing=runtime.tracing)
    runtime.background.append(every(every_s, "saga sweep", sweeper.sweep))
    runtime.saga_tables.extend(tables)
    return sweeper


# --- what operators see of the sagas ------------------------------------------------------


def saga_state(table: SagaTable, saga: Any, now: datetime) -> SagaState:
    deadline = saga.deadline_at
    return SagaState(
        kind=saga.kind,
        id=saga.id,
        step=saga.step,
        attempts=saga.attempts,
        deadline_at=deadline,
        overdue_s=round((now - deadline).total_seconds(), 3) if deadline is not None and deadline < now else None,
        created_at=saga.created_at,
        ended_at=saga.ended_at,
        outcome=saga.outcome,
        reason=saga.reason,
        correlation_id=saga.correlation_id,
        hold_id=table.holds.hold_id(saga) if table.holds else None,
    )


async def stuck_sagas(
    db: Database,
    tables: Sequence[SagaTable],
    now: datetime,
    grace: timedelta,
    *,
    limit: int,
    min_attempts: int | None = None,
) -> list[StuckKind]:
    """Per kind, the sagas whose deadline passed before `now - grace` (a healthy sweeper
    acts within its interval and moves the deadline on): how many, and the `limit`
    longest overdue. With `min_attempts`, also those whose step was sent that many times
    without an answer: a sweeper re-sending into a lost broker keeps moving the deadline."""
    cutoff = now - grace
    kinds: dict[str, StuckKind] = {}
    async with db.read() as session:
        for table in tables:
            model = table.model
            overdue = model.deadline_at < cutoff
            if min_attempts is not None:
                overdue = or_(overdue, and_(model.step.is_not(None), model.attempts >= min_attempts))
            counts = await session.execute(select(model.kind, func.count()).where(overdue).group_by(model.kind))
            for kind, total in counts.all():
                rows = await session.scalars(
                    select(model).where(overdue, model.kind == kind).order_by(model.deadline_at).limit(limit)
                )
                found = kinds.setdefault(kind, StuckKind(kind=kind, total=0, items=[]))
                found.total += total
                found.items += [saga_state(table, row, now) for row in rows.all()]
    for found in kinds.values():
        found.items = sorted(found.items, key=lambda s: s.deadline_at or now)[:limit]
    return sorted(kinds.values(), key=lambda k: k.kind)


async def sagas_holding(
    db: Database, tables: Sequence[SagaTable], hold_ids: Sequence[str], now: datetime
) -> list[SagaState]:
    """The sagas behind these holds at accounts, as they stand; a hold none of the tables
    knows is left out."""
    wanted = set(hold_ids)
    found: list[SagaState] = []
    async with db.read() as session:
        for table in tables:
            if table.holds is None:
                continue
            model, holds = table.model, table.holds
            ids = sorted({saga_id for h in wanted if (saga_id := holds.saga_id(h)) is not None})
            for start in range(0, len(ids), 500):
                rows = await session.scalars(select(model).where(model.id.in_(ids[start : start + 500])))
                found += [saga_state(table, row, now) for row in rows.all() if holds.hold_id(row) in wanted]
    return found


def audit_saga(uow: UnitOfWork, saga: Any, *, ended: bool) -> None:
    """The saga's start or end, once each, in its service's audit trail (shared/audit.py),
    as `system:<service>` with the correlation id of the request that started it."""
    uow.audit(
        actor=f"system:{uow.source}",
        action="saga.ended" if ended else "saga.started",
        subject_kind=saga.kind,
        subject_id=saga.id,
        customer_id=getattr(saga, "customer_id", None),
        account_id=getattr(saga, "payer_account_id", None) or getattr(saga, "account_id", None),
        after=(
            {"outcome": saga.outcome, "reason": saga.reason}
            if ended
            else {"step": saga.step, "amount_minor": getattr(saga, "amount_minor", None)}
        ),
        correlation_id=getattr(saga, "correlation_id", None),
    )
