"""Sandbox deposits: cash into a customer's account from the sandbox's external cash-in
account, sent to accounts as a `CreditAccount` command and settled by its reply.

All of it is here (table, routes, the `accounts.events` consumer; the bodies are
payments' own, shared/schemas/payments.py) so that it can leave in one piece for a
routing-table row now that payments runs deposits as a saga with the same public contract.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import BigInteger, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from gateway.deps import Customer, GatewayDep, SandboxOnly, UpstreamsDep
from gateway.errors import PROBLEM, Refused, problem_of
from gateway.routing.errors import ERRORS as ROUTING_ERRORS
from gateway.routing.idempotency import Claim, Idempotency, fingerprint
from shared.db import UtcDateTime
from shared.events import Envelope, Message
from shared.events import accounts as ev
from shared.events.topics import ACCOUNTS_EVENTS
from shared.idempotency import read_key
from shared.kafka.messaging import UnitOfWork
from shared.money import InvalidAmount, format_minor, to_minor
from shared.problems import PROBLEM_JSON, Problem, not_found
from shared.runtime import ConsumerSpec
from shared.schemas.payments import DepositCreate, DepositPublic

CASH_IN = "internal:cash-in"


class Deposit(Base):
    """A sandbox cash-in: sent to accounts as CreditAccount, settled by its reply."""

    __tablename__ = "deposit"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))  # pending | completed | failed
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses={400: PROBLEM, 401: PROBLEM, 404: PROBLEM})


def _deposit_public(d: Deposit) -> DepositPublic:
    return DepositPublic(
        id=d.id,
        account_id=d.account_id,
        amount=format_minor(d.amount_minor, d.currency),
        amount_minor=d.amount_minor,
        currency=d.currency,
        status=d.status,  # type: ignore[arg-type]
        reason=d.reason,
        detail=d.detail,
        created_at=d.created_at,
        links={"self": f"/v1/sandbox/deposits/{d.id}", "account": f"/v1/accounts/{d.account_id}"},
    )


@router.post(
    "/deposits",
    status_code=202,
    response_model=DepositPublic,
    dependencies=[SandboxOnly],
    responses={409: PROBLEM, 422: PROBLEM},
)
async def create_deposit(
    body: DepositCreate, request: Request, principal: Customer, gw: GatewayDep, upstreams: UpstreamsDep
) -> Response:
    """Fund one of your accounts from the sandbox's external cash-in account.

    Answers 202 with a pending deposit: the credit travels to accounts as a
    `accounts.CreditAccount` command and the deposit completes (or fails, e.g. above
    a class III balance cap) when accounts replies. An `Idempotency-Key` header makes
    retries safe: the same key and body replay the first answer."""
    key = read_key(request)
    if body.currency != "CNY":
        raise Problem(422, "unsupported-currency", f"currency {body.currency!r} is not supported; use CNY")
    try:
        amount_minor = to_minor(body.amount, body.currency)
    except InvalidAmount as exc:
        raise Problem(422, "invalid-amount", str(exc)) from None
    runtime, idempotency = gw.runtime, gw.idempotency
    claim: Claim | None = None
    if key is not None:
        outcome = await idempotency.begin(principal.subject, key, fingerprint(request, await request.body()))
        if isinstance(outcome, Response):
            return outcome
        claim = outcome
    try:
        account = await upstreams.call("accounts", "GET", f"/v1/accounts/{body.account_id}", token=principal.token)
        account.raise_for_problem()
        now = gw.clock.now()
        deposit = Deposit(
            id=str(uuid.uuid4()),
            customer_id=principal.subject,
            account_id=body.account_id,
            amount_minor=amount_minor,
            currency=body.currency,
            status="pending",
            created_at=now,
            updated_at=now,
        )
        public = _deposit_public(deposit)
        content = public.model_dump_json().encode()
        headers = {"location": public.links["self"], "content-type": "application/json"}
        async with runtime.unit_of_work() as uow:
            uow.session.add(deposit)
            uow.publish(
                ev.CreditAccount(
                    account_id=body.account_id,
                    credit_id=deposit.id,
                    source_account_id=CASH_IN,
                    amount_minor=amount_minor,
                    currency=body.currency,
                    description="Sandbox deposit",
                )
            )
            if claim is not None:
                await Idempotency.finish(uow.session, claim, 202, content, headers)
    except (Problem, Refused) as error:
        problem = error if isinstance(error, Problem) else problem_of(error, ROUTING_ERRORS)
        if claim is not None:
            if problem.status < 500:
                await idempotency.complete(
                    claim, problem.status, orjson.dumps(problem.body()), {"content-type": PROBLEM_JSON}
                )
            else:
                await idempotency.abandon(claim)
        raise
    except BaseException:
        if claim is not None:
            await idempotency.abandon(claim)
        raise
    return Response(content, status_code=202, headers=headers)


@router.get("/deposits/{deposit_id}", response_model=DepositPublic, dependencies=[SandboxOnly])
async def get_deposit(deposit_id: str, principal: Customer, gw: GatewayDep) -> DepositPublic:
    """A deposit's status: pending, completed, or failed with the reason."""
    async with gw.runtime.db.read() as session:
        deposit = await session.scalar(
            select(Deposit).where(Deposit.id == deposit_id, Deposit.customer_id == principal.subject)
        )
    if deposit is None:
        raise not_found("deposit", deposit_id)
    return _deposit_public(deposit)


async def when_account_credited_complete_deposit(uow: UnitOfWork, _e: Envelope, message: Message) -> None:
    assert isinstance(message, ev.AccountCredited)
    await uow.session.execute(
        update(Deposit)
        .where(Deposit.id == message.credit_id, Deposit.status == "pending")
        .values(status="completed", updated_at=_e.time)
    )


async def when_credit_rejected_fail_deposit(uow: UnitOfWork, _e: Envelope, message: Message) -> None:
    assert isinstance(message, ev.CreditRejected)
    await uow.session.execute(
        update(Deposit)
        .where(Deposit.id == message.credit_id, Deposit.status == "pending")
        .values(status="failed", reason=message.reason, detail=message.detail[:300], updated_at=_e.time)
    )


def deposits_consumer(service: str) -> ConsumerSpec:
    """Group `<service>`: named after the process, so a second gateway started beside the
    stack (tests) reads the replies to its own deposits."""
    return ConsumerSpec(
        name=service,
        topics=[ACCOUNTS_EVENTS],
        handlers={
            ev.AccountCredited.TYPE: when_account_credited_complete_deposit,
            ev.CreditRejected.TYPE: when_credit_rejected_fail_deposit,
        },
        replies_only=True,  # credits the other services asked for are none of ours
    )
