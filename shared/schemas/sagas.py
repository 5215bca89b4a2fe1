"""What a process tells the gateway and operators about its sagas (shared.saga): those
past their deadline (GET /internal/sagas/stuck), and those behind the holds accounts
keeps for it (POST /internal/sagas/holds, for the ledger check)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SAGA_EXAMPLE: dict[str, Any] = {
    "kind": "transfer",
    "id": "5a0e1d3c-0000-4000-8000-000000000101",
    "step": "capture",
    "attempts": 3,
    "deadline_at": "2025-06-02T09:31:20Z",
    "overdue_s": 42.5,
    "created_at": "2025-06-02T09:31:00Z",
    "ended_at": None,
    "outcome": None,
    "reason": None,
    "correlation_id": "c0ffee00-0000-4000-8000-000000000001",
    "hold_id": "5a0e1d3c-0000-4000-8000-000000000101",
}


class SagaState(BaseModel):
    """One saga as its row stands (the columns of shared.saga.store.SagaColumns)."""

    model_config = ConfigDict(json_schema_extra={"examples": [SAGA_EXAMPLE]})

    kind: str
    id: str
    step: str | None = Field(description="The command whose answer it waits for; none once it has ended")
    attempts: int = Field(description="How often the step's command was sent")
    deadline_at: datetime | None = Field(description="When the step's wait ends, on the sandbox clock")
    overdue_s: float | None = Field(description="Seconds past the deadline at the time of asking; none if not past it")
    created_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None
    reason: str | None = None
    correlation_id: str | None = Field(description="The request that started the saga")
    hold_id: str | None = Field(description="The hold accounts keeps for it, where the saga holds money")


STUCK_KIND_EXAMPLE: dict[str, Any] = {"kind": "transfer", "total": 1, "items": [SAGA_EXAMPLE]}


class StuckKind(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [STUCK_KIND_EXAMPLE]})

    kind: str
    total: int = Field(description="How many sagas of this kind are past their deadline (items lists at most `limit`)")
    items: list[SagaState] = Field(description="The longest overdue first")


STUCK_SAGAS_EXAMPLE: dict[str, Any] = {
    "service": "payments",
    "checked_at": "2025-06-02T09:32:02.5Z",
    "grace_s": 5.0,
    "total": 1,
    "kinds": [STUCK_KIND_EXAMPLE],
}


class StuckSagas(BaseModel):
    """A service's sagas whose deadline passed more than `grace_s` before `checked_at`:
    its sweeper should have re-sent their step, compensated or ended them by then."""

    model_config = ConfigDict(json_schema_extra={"examples": [STUCK_SAGAS_EXAMPLE]})

    service: str
    checked_at: datetime = Field(description="The service's sandbox clock when it looked")
    grace_s: float
    min_attempts: int | None = Field(
        default=None, description="When asked: sagas whose step was sent this many times are listed too"
    )
    total: int
    kinds: list[StuckKind] = Field(description="Only the kinds that have sagas past their deadline")


class HoldIds(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"hold_ids": [SAGA_EXAMPLE["id"]]}]})

    hold_ids: list[str] = Field(max_length=10_000)


HELD_SAGAS_EXAMPLE: dict[str, Any] = {
    "service": "payments",
    "checked_at": "2025-06-02T09:32:02.5Z",
    "items": [SAGA_EXAMPLE],
}


class HeldSagas(BaseModel):
    """The sagas behind the holds asked about; a hold with no saga here has none."""

    model_config = ConfigDict(json_schema_extra={"examples": [HELD_SAGAS_EXAMPLE]})

    service: str
    checked_at: datetime = Field(description="The service's sandbox clock when it looked")
    items: list[SagaState]
