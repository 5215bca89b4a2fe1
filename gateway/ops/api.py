"""Operator views across the stack: the ledger check and the payments summary (rows of the
pass-through table), and every service's dead letters with their replay."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path

from gateway.deps import Operator, UpstreamsDep
from gateway.ops.schemas import DeadLetters
from gateway.routing.routes import PassThrough
from gateway.routing.upstream import ITSELF, UpstreamResponse
from shared.internal import DeadLetter, DeadLetterList
from shared.pagination import MAX_SEQ
from shared.problems import PROBLEM
from shared.schemas.accounts import LedgerCheck
from shared.schemas.payments import PaymentsSummary

SERVICES = ("accounts", "payments", "securities", "insurance")
Service = Literal["accounts", "payments", "securities", "insurance"]

ROUTES = (
    PassThrough(
        "GET",
        "/v1/admin/ledger/check",
        service="accounts",
        name="ledger_check",
        who="operator",
        response=LedgerCheck,
        tags=("operator",),
        problems=(401, 403),
        doc="""Run the ledger invariant check (operators only): balances sum to zero per
        currency, every entry balances, no available balance below zero, no stale hold.""",
    ),
    PassThrough(
        "GET",
        "/v1/admin/payments/summary",
        service="payments",
        name="payments_summary",
        who="operator",
        response=PaymentsSummary,
        tags=("payments", "operator"),
        problems=(400, 401, 404, 409, 422),
        doc="Payments by stage and the age of the oldest unfinished saga (operators).",
    ),
)

router = APIRouter(prefix="/v1/admin", tags=["operator"], responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})


@router.get("/dead-letters", response_model=DeadLetters)
async def list_dead_letters(_operator: Operator, upstreams: UpstreamsDep) -> DeadLetters:
    """Poison messages every service's consumers gave up on (newest first), with the error."""
    answers = await asyncio.gather(
        *(upstreams.call(s, "GET", "/internal/dead-letters", caller=ITSELF) for s in SERVICES), return_exceptions=True
    )
    found, unavailable = [], []
    for service, answer in zip(SERVICES, answers, strict=True):
        if isinstance(answer, UpstreamResponse) and answer.status_code == 200:
            found.append(DeadLetterList.model_validate(answer.json()))
        else:
            unavailable.append(service)
    return DeadLetters(services=found, unavailable=unavailable)


@router.post("/dead-letters/{service}/{letter_id}/replay", response_model=DeadLetter)
async def replay_dead_letter(
    service: Service,
    letter_id: Annotated[int, Path(ge=1, le=MAX_SEQ)],
    _operator: Operator,
    upstreams: UpstreamsDep,
) -> DeadLetter:
    """Put a dead letter back on its original topic for its consumer to apply again."""
    answer = await upstreams.call(service, "POST", f"/internal/dead-letters/{letter_id}/replay", caller=ITSELF)
    answer.raise_for_problem()
    return DeadLetter.model_validate(answer.json())
