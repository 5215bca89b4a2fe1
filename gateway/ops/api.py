"""Operator views across the stack: the payments summary (a row of the pass-through
table), the ledger check with the sagas behind its holds, every service's sagas past
their deadline, and every service's dead letters with their replay."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from gateway.deps import GatewayDep, Operator, UpstreamsDep
from gateway.ops.holds import hold_violations, owned_holds
from gateway.ops.schemas import DeadLetters, StuckSagasEverywhere
from gateway.routing.routes import PassThrough
from gateway.routing.upstream import ITSELF, UpstreamResponse, Upstreams
from shared.errors import ServiceUnavailable
from shared.internal import STUCK_GRACE_S, DeadLetter, DeadLetterList, MinAttempts
from shared.pagination import MAX_SEQ
from shared.problems import PROBLEM
from shared.schemas.accounts import ActiveHolds, LedgerCheck
from shared.schemas.payments import PaymentsSummary
from shared.schemas.sagas import HeldSagas, StuckSagas

SERVICES = ("accounts", "payments", "securities", "insurance")
Service = Literal["accounts", "payments", "securities", "insurance"]

ROUTES = (
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
async def list_dead_letters(_operator: Operator, gw: GatewayDep) -> DeadLetters:
    """Poison messages every service's consumers gave up on (newest first), with the error.
    A service that does not answer is listed in `unavailable`."""
    answers = await asyncio.gather(
        *(gw.upstreams.call(s, "GET", "/internal/dead-letters", caller=ITSELF) for s in SERVICES),
        return_exceptions=True,
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


GraceS = Annotated[
    float, Query(ge=0, le=86400, description="Seconds past its deadline after which a saga counts as stuck")
]


@router.get("/ledger/check", response_model=LedgerCheck)
async def ledger_check(
    operator: Operator,
    upstreams: UpstreamsDep,
    stale_after_s: Annotated[
        int, Query(ge=1, le=86400, description="Age after which a hold without an expiry counts as stale")
    ] = 600,
    grace_s: GraceS = STUCK_GRACE_S,
) -> LedgerCheck:
    """Run the ledger invariant check (operators only): balances sum to zero per currency,
    every entry balances, held amounts equal active holds, no available balance below
    zero, no hold older than `stale_after_s` (or past its expiry); and every active hold
    belongs to a live saga: the service that reserved it has a saga behind it
    (`hold_has_saga`) that has not ended (`hold_saga_not_ended`) and is not more than
    `grace_s` past its deadline (`hold_saga_within_deadline`). A service that does not
    answer is named in `owners_unavailable`; its holds are checked by age only."""
    check_answer, holds_answer = await asyncio.gather(
        upstreams.call(
            "accounts", "GET", "/v1/admin/ledger/check", caller=operator, params={"stale_after_s": stale_after_s}
        ),
        upstreams.call("accounts", "GET", "/internal/holds/active", caller=ITSELF),
    )
    check_answer.raise_for_problem()
    holds_answer.raise_for_problem()
    check = LedgerCheck.model_validate(check_answer.json())
    holds = ActiveHolds.model_validate(holds_answer.json())
    owners = owned_holds(holds.items, SERVICES)
    answers = dict(
        zip(owners, await asyncio.gather(*(_held_sagas(upstreams, o, ids) for o, ids in owners.items())), strict=True)
    )
    found = hold_violations(holds.items, holds.checked_at, answers, timedelta(seconds=grace_s))
    violations = check.violations + found
    return check.model_copy(
        update={
            "ok": not violations,
            "violations": violations,
            "holds_with_saga_checked": sum(len(owners[o]) for o, a in answers.items() if a is not None),
            "owners_unavailable": sorted(o for o, a in answers.items() if a is None),
            "saga_grace_s": grace_s,
        }
    )


async def _held_sagas(upstreams: Upstreams, service: str, hold_ids: list[str]) -> HeldSagas | None:
    """The sagas behind `hold_ids` at `service`, or None if it does not answer."""
    try:
        answer = await upstreams.call(
            service, "POST", "/internal/sagas/holds", caller=ITSELF, json={"hold_ids": hold_ids}
        )
    except ServiceUnavailable:
        return None
    return HeldSagas.model_validate(answer.json()) if answer.status_code == 200 else None


@router.get("/sagas/stuck", response_model=StuckSagasEverywhere)
async def list_stuck_sagas(
    _operator: Operator,
    gw: GatewayDep,
    grace_s: GraceS = STUCK_GRACE_S,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many of each kind per service")] = 100,
    min_attempts: MinAttempts = None,
) -> StuckSagasEverywhere:
    """Every service's sagas (payments, deposits, orders, bank-securities transfers,
    premiums, payouts, ...) whose deadline on the sandbox clock passed more than
    `grace_s` ago, by kind, the longest overdue first, with how many there are. A healthy
    sweeper acts within about a second of a deadline, so anything here is stuck. With
    `min_attempts`, also the sagas whose step was sent that many times without an answer
    (a sweeper re-sending into a lost broker keeps moving their deadline). A service that
    does not answer is listed in `unavailable`."""
    params: dict[str, float | int] = {"grace_s": grace_s, "limit": limit}
    if min_attempts is not None:
        params["min_attempts"] = min_attempts
    answers = await asyncio.gather(
        *(gw.upstreams.call(s, "GET", "/internal/sagas/stuck", caller=ITSELF, params=params) for s in SERVICES),
        return_exceptions=True,
    )
    found, unavailable = [], []
    for service, answer in zip(SERVICES, answers, strict=True):
        if isinstance(answer, UpstreamResponse) and answer.status_code == 200:
            found.append(StuckSagas.model_validate(answer.json()))
        else:
            unavailable.append(service)
    return StuckSagasEverywhere(total=sum(s.total for s in found), services=found, unavailable=unavailable)
