"""Sandbox controls: the clock every process reads, faults on a service's outgoing
messages, a reset of the whole bank to its seed state, the magic-values table, the inbox
of text messages (the sandbox's SMS) and the log of pushes to devices. Off (404) unless
the stack runs in sandbox mode."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from gateway.deps import (
    Authenticated,
    ClockDep,
    GatewayDep,
    InboxDep,
    Operator,
    SandboxOnly,
    SessionsDep,
    UpstreamsDep,
)
from gateway.routing.upstream import ITSELF, UpstreamResponse, Upstreams
from gateway.sandbox import magic
from gateway.sandbox.schemas import (
    ClockChange,
    ClockNow,
    ClockPublic,
    FaultCreate,
    FaultList,
    InboxMessage,
    InboxPage,
    MagicValuePublic,
    MagicValues,
    PushDelivery,
    PushDeliveryPage,
    ResetResult,
)
from gateway.sandbox.store import SandboxPush
from shared.auth import ROLE_OPERATOR
from shared.internal import FaultState
from shared.phone import normalise_phone
from shared.problems import PROBLEM, Problem, not_found

SERVICES = ("accounts", "payments", "securities", "insurance")

clock_router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses={400: PROBLEM, 401: PROBLEM, 404: PROBLEM})


@clock_router.get("/clock", response_model=ClockNow, dependencies=[SandboxOnly])
async def read_clock(_principal: Authenticated, clock: ClockDep) -> ClockNow:
    """The sandbox clock as the gateway reads it (customers and operators): every
    timestamp Sandbank answers with, notifications' `event_at` and `created_at` included,
    is on it."""
    return ClockNow(offset_s=clock.offset.total_seconds(), now=clock.now(), bank_day=clock.bank_day())


@clock_router.post("/clock", response_model=ClockPublic, dependencies=[SandboxOnly])
async def set_clock(body: ClockChange, _operator: Operator, clock: ClockDep, gw: GatewayDep) -> ClockPublic:
    """Advance or set the sandbox clock that T+1 settlement, waiting periods and daily
    limits read, in the gateway and every service (operators only). The clock only
    moves forward from real time: `offset_s` is how far ahead it runs. A service that does
    not answer is `unavailable` in `services`."""
    upstreams = gw.upstreams
    if (body.advance_s is None) == (body.offset_s is None):
        raise Problem(422, "validation-error", "give exactly one of advance_s or offset_s")
    if body.offset_s is not None:
        offset = body.offset_s
    else:
        # Advance from the furthest clock in the stack (a restarted process starts at real
        # time), so no clock ever moves backwards.
        current = await asyncio.gather(
            *(upstreams.call(s, "GET", "/internal/clock", caller=ITSELF) for s in SERVICES), return_exceptions=True
        )
        offsets = [clock.offset.total_seconds()] + [
            float(r.json()["offset_s"]) for r in current if isinstance(r, UpstreamResponse) and r.status_code == 200
        ]
        offset = max(offsets) + (body.advance_s or 0)
    results = await asyncio.gather(
        # Every replica keeps its clock in memory: each one is told.
        *(upstreams.call_each(s, "PUT", "/internal/clock", caller=ITSELF, json={"offset_s": offset}) for s in SERVICES),
        return_exceptions=True,
    )
    services = {
        s: "ok" if isinstance(r, UpstreamResponse) and r.status_code == 200 else "unavailable"
        for s, r in zip(SERVICES, results, strict=True)
    }
    await gw.runtime.set_clock_offset(timedelta(seconds=offset))
    return ClockPublic(offset_s=offset, now=clock.now().isoformat(), services=services)


router = APIRouter(
    prefix="/v1/sandbox",
    tags=["sandbox"],
    dependencies=[SandboxOnly],
    responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
)


@router.get("/faults", response_model=FaultList, responses={502: PROBLEM})
async def list_faults(_operator: Operator, gw: GatewayDep, upstreams: UpstreamsDep) -> FaultList:
    """The fault on each process's outgoing messages (`mode: none` where there is none),
    with how many messages each has dropped or duplicated so far."""
    answers = await asyncio.gather(
        *(upstreams.call(s, "GET", "/internal/faults", caller=ITSELF) for s in SERVICES), return_exceptions=True
    )
    items = []
    for service, answer in zip(SERVICES, answers, strict=True):
        if not isinstance(answer, UpstreamResponse) or answer.status_code != 200:
            raise Problem(502, "service-unavailable", f"{service} did not say what fault it has")
        items.append(FaultState.model_validate(answer.json()))
    faults = gw.runtime.faults
    fault = faults.current()
    items.append(
        FaultState(
            service="gateway",
            mode=fault.mode if fault else "none",
            remaining_s=round(max(0.0, fault.until - time.monotonic()), 1) if fault else 0.0,
            delay_ms=fault.delay_ms if fault else 0,
            probability=fault.probability if fault else 1.0,
            dropped=faults.dropped,
            duplicated=faults.duplicated,
        )
    )
    return FaultList(items=items)


@router.post("/faults", response_model=FaultState)
async def set_fault(body: FaultCreate, _operator: Operator, gw: GatewayDep, upstreams: UpstreamsDep) -> FaultState:
    """Delay, drop or duplicate one service's outgoing Kafka messages for a while, to watch
    sagas retry and consumers stay idempotent. `mode: none` ends it early."""
    spec = body.model_dump(exclude={"service"})
    if body.service == "gateway":
        faults = gw.runtime.faults
        if body.mode == "none":
            faults.clear()
        else:
            faults.set(body.mode, body.duration_s, delay_ms=body.delay_ms, probability=body.probability)
        fault = faults.current()
        return FaultState(
            service="gateway",
            mode=fault.mode if fault else "none",
            remaining_s=body.duration_s if fault else 0,
            delay_ms=body.delay_ms,
            probability=body.probability,
            dropped=faults.dropped,
            duplicated=faults.duplicated,
        )
    response = await upstreams.call(body.service, "PUT", "/internal/faults", caller=ITSELF, json=spec)
    response.raise_for_problem()
    return FaultState.model_validate(response.json())


@router.post("/reset", response_model=ResetResult, responses={502: PROBLEM})
async def reset(_operator: Operator, gw: GatewayDep) -> ResetResult:
    """Back to the seed state: every service empties its tables and seeds again (demo
    customers, balances, market, products); the gateway forgets logins, sessions and
    idempotency keys except the demo ones. For a test suite that wants a clean bank."""
    results = await asyncio.gather(*(_reset(gw.upstreams, s) for s in SERVICES), return_exceptions=True)
    services = {
        s: "reset" if isinstance(r, UpstreamResponse) and r.status_code == 204 else "unavailable"
        for s, r in zip(SERVICES, results, strict=True)
    }
    await gw.runtime.reset()
    services["gateway"] = "reset"
    if any(v != "reset" for v in services.values()):
        raise Problem(502, "reset-incomplete", f"not every service could be reset: {services}", services=services)
    return ResetResult(services=services)


async def _reset(upstreams: Upstreams, service: str) -> UpstreamResponse:
    """One replica empties the service's tables (its replicas share them, ADR 0018) and seeds
    again; then every replica is told its clock is back at real time, since each keeps the
    clock in memory (a replica left ahead would disagree on every date with the others).
    A replica that is down is left: it reads the clock, reset, from the database when it
    starts."""
    response = await upstreams.call(service, "POST", "/internal/reset", caller=ITSELF)
    if response.status_code == 204 and len(upstreams.replicas(service)) > 1:
        told = await upstreams.call_each(
            service, "PUT", "/internal/clock", caller=ITSELF, json={"offset_s": 0}, down_ok=True
        )
        told.raise_for_problem()
    return response


@router.get("/inbox", response_model=InboxPage)
async def read_inbox(
    principal: Authenticated,
    sessions: SessionsDep,
    inbox: InboxDep,
    phone: Annotated[str | None, Query(max_length=30, description="Operators: whose messages")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InboxPage:
    """The text messages the bank sent to a phone number, newest first: registration codes
    and step-up codes (the sandbox's SMS; outside sandbox mode they go nowhere readable,
    and this is a 404). A session reads its own number's messages; an operator reads any
    number's with `?phone=`."""
    if principal.has(ROLE_OPERATOR):
        if phone is None:
            raise Problem(422, "validation-error", "give the phone number whose messages to read: ?phone=+86...")
        number = _phone(phone)
    else:
        user = await sessions.user(principal.subject)
        if user is None:
            raise not_found("user", principal.subject)
        number = user.phone
        if phone is not None and _phone(phone) != number:
            raise Problem(403, "forbidden", "a customer reads only their own number's messages")
    found = await inbox.messages(number, limit)
    return InboxPage(items=[InboxMessage.model_validate(m, from_attributes=True) for m in found])


@router.get("/push-deliveries", response_model=PushDeliveryPage)
async def read_push_deliveries(
    principal: Authenticated,
    gw: GatewayDep,
    customer_id: Annotated[str | None, Query(max_length=36, description="Operators: whose pushes")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PushDeliveryPage:
    """The pushes the bank sent to a customer's registered devices, newest first: one per
    device for each notification of a kind they have not muted (the sandbox's push
    provider; outside sandbox mode this is a 404). A customer reads their own; an operator
    reads any customer's with `?customer_id=`."""
    if principal.has(ROLE_OPERATOR):
        if customer_id is None:
            raise Problem(422, "validation-error", "give the customer whose pushes to read: ?customer_id=")
        whose = customer_id
    else:
        if customer_id is not None and customer_id != principal.subject:
            raise Problem(403, "forbidden", "a customer reads only their own pushes")
        whose = principal.subject
    async with gw.runtime.db.read() as session:
        found = await session.scalars(
            select(SandboxPush).where(SandboxPush.customer_id == whose).order_by(SandboxPush.id.desc()).limit(limit)
        )
        return PushDeliveryPage(items=[PushDelivery.model_validate(p, from_attributes=True) for p in found.all()])


def _phone(value: str) -> str:
    try:
        return normalise_phone(value)
    except ValueError as exc:
        raise Problem(422, "validation-error", str(exc)) from None


magic_router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], dependencies=[SandboxOnly], responses={404: PROBLEM})


@magic_router.get("/magic-values", response_model=MagicValues)
async def magic_values() -> MagicValues:
    """The sandbox's magic values and controls, like a card network's test numbers:
    demo logins, amounts and billers that force an outcome, limits, and the controls
    (clock, faults, reset) a test suite drives. The same table as docs/sandbox.md. No
    login needed; 404 outside sandbox mode."""
    return MagicValues(items=[MagicValuePublic(**row) for row in magic.as_json()])
