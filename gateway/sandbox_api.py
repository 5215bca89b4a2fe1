"""Sandbox controls for operators: faults on a service's outgoing messages, and a reset
of the whole bank to its seed state. Off unless the stack runs in sandbox mode."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api import PROBLEM, Operator, UpstreamsDep, _sandbox_only
from gateway.upstream import raise_for_problem
from shared.internal import FaultState
from shared.problems import Problem

router = APIRouter(
    prefix="/v1/sandbox",
    tags=["sandbox"],
    dependencies=[Depends(_sandbox_only)],
    responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
)

SERVICES = ("accounts", "payments", "securities", "insurance")


class FaultCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"service": "accounts", "mode": "duplicate", "duration_s": 30},
                {"service": "payments", "mode": "delay", "duration_s": 10, "delay_ms": 800},
                {"service": "accounts", "mode": "drop", "duration_s": 5, "probability": 0.5},
                {"service": "accounts", "mode": "none"},
            ]
        },
    )
    service: Literal["accounts", "payments", "securities", "insurance", "gateway"]
    mode: Literal["delay", "drop", "duplicate", "none"] = Field(description="`none` clears the fault")
    duration_s: float = Field(default=30, gt=0, le=3600)
    delay_ms: int = Field(default=500, ge=0, le=60_000, description="For `delay`")
    probability: float = Field(default=1.0, gt=0, le=1, description="Share of messages affected")


RESET_RESULT_EXAMPLE = {
    "services": {
        "accounts": "reset",
        "payments": "reset",
        "securities": "reset",
        "insurance": "reset",
        "gateway": "reset",
    }
}


class ResetResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RESET_RESULT_EXAMPLE]})

    services: dict[str, str]


@router.post("/faults", response_model=FaultState)
async def set_fault(body: FaultCreate, request: Request, _operator: Operator, upstreams: UpstreamsDep) -> FaultState:
    """Delay, drop or duplicate one service's outgoing Kafka messages for a while, to watch
    sagas retry and consumers stay idempotent. `mode: none` ends it early."""
    spec = body.model_dump(exclude={"service"})
    if body.service == "gateway":
        runtime = request.app.state.runtime
        if body.mode == "none":
            runtime.faults.clear()
        else:
            runtime.faults.set(body.mode, body.duration_s, delay_ms=body.delay_ms, probability=body.probability)
        fault = runtime.faults.current()
        return FaultState(
            service="gateway",
            mode=fault.mode if fault else "none",
            remaining_s=body.duration_s if fault else 0,
            delay_ms=body.delay_ms,
            probability=body.probability,
            dropped=runtime.faults.dropped,
            duplicated=runtime.faults.duplicated,
        )
    response = await upstreams.call(
        body.service, "PUT", "/internal/faults", token=request.app.state.service_token(), json=spec
    )
    raise_for_problem(response)
    return FaultState.model_validate(response.json())


@router.post("/reset", response_model=ResetResult)
async def reset(request: Request, _operator: Operator, upstreams: UpstreamsDep) -> ResetResult:
    """Back to the seed state: every service empties its tables and seeds again (demo
    customers, balances, market, products); the gateway forgets logins, sessions and
    idempotency keys except the demo ones. For a test suite that wants a clean bank."""
    token = request.app.state.service_token()
    results = await asyncio.gather(
        *(upstreams.call(s, "POST", "/internal/reset", token=token) for s in SERVICES), return_exceptions=True
    )
    services = {
        s: "reset" if not isinstance(r, BaseException) and r.status_code == 204 else "unavailable"
        for s, r in zip(SERVICES, results, strict=True)
    }
    await request.app.state.runtime.reset()
    services["gateway"] = "reset"
    if any(v != "reset" for v in services.values()):
        raise Problem(502, "reset-incomplete", f"not every service could be reset: {services}", services=services)
    return ResetResult(services=services)
