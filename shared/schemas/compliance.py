"""Bodies of the compliance queue (AML alerts and reports), served by accounts and passed
through by the gateway under /v1/admin/compliance."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import Prose

AlertStatus = Literal["open", "under_review", "reported", "dismissed"]
AlertRule = Literal["large_cash", "large_transfer", "structuring", "rapid_in_out", "dormant", "many_payers"]
MovementKind = Literal[
    "cash_deposit", "cash_withdrawal", "transfer", "bill", "qr", "topup", "securities", "insurance", "other"
]

MOVEMENT_EXAMPLE: dict[str, Any] = {
    "id": "0b9f2c1e-7d3a-4f6b-9a8e-1c2d3e4f5a6b:in",
    "at": "2026-11-30T09:15:00Z",
    "account_id": "5a0e1d3c-0000-4000-8000-000000000201",
    "customer_id": "9b1c7a2e-0000-4000-8000-000000000002",
    "direction": "in",
    "kind": "cash_deposit",
    "amount": "50000.00",
    "amount_minor": 5_000_000,
    "currency": "CNY",
    "counterparty_account_id": "internal:cash-in",
    "counterparty_customer_id": None,
}


class MovementPublic(BaseModel):
    """One side of a ledger posting on a customer's account: the evidence of an alert."""

    model_config = ConfigDict(json_schema_extra={"examples": [MOVEMENT_EXAMPLE]})

    id: str
    at: datetime = Field(description="When the ledger posted it, on the sandbox clock")
    account_id: str
    customer_id: str | None
    direction: Literal["in", "out"]
    kind: MovementKind
    amount: str
    amount_minor: int
    currency: str
    counterparty_account_id: str
    counterparty_customer_id: str | None


ALERT_EXAMPLE: dict[str, Any] = {
    "id": "3f0c9a52-1b7e-4d2a-8c61-5e4f3a2b1c0d",
    "rule": "large_cash",
    "category": "large_value",
    "status": "under_review",
    "customer_id": "9b1c7a2e-0000-4000-8000-000000000002",
    "account_id": "5a0e1d3c-0000-4000-8000-000000000201",
    "detail": "cash in on 2026-11-30: 50000.00 CNY in 1 movement(s)",
    "total": "50000.00",
    "total_minor": 5_000_000,
    "currency": "CNY",
    "forced": False,
    "evidence": [MOVEMENT_EXAMPLE],
    "raised_at": "2026-11-30T09:15:00Z",
    "reviewer": "9b1c7a2e-0000-4000-8000-00000000f001",
    "review_started_at": "2026-11-30T09:20:00Z",
    "decided_by": None,
    "decided_at": None,
    "decision_note": None,
    "report_id": None,
}


class AlertPublic(BaseModel):
    """An AML alert: what the rule found, its evidence, and where its review stands."""

    model_config = ConfigDict(json_schema_extra={"examples": [ALERT_EXAMPLE]})

    id: str
    rule: AlertRule
    category: Literal["large_value", "suspicious"]
    status: AlertStatus
    customer_id: str
    account_id: str
    detail: str
    total: str
    total_minor: int
    currency: str
    forced: bool = Field(description="Raised by a sandbox magic amount (docs/sandbox.md), not the thresholds")
    evidence: list[MovementPublic]
    raised_at: datetime = Field(description="On the sandbox clock")
    reviewer: str | None
    review_started_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    report_id: str | None = Field(description="The report filed when the decision was `reported`")


class AlertPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [ALERT_EXAMPLE], "next_cursor": None}]})

    items: list[AlertPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class AlertDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "reported", "note": "deposits split to stay under 50,000"}]},
    )

    decision: Literal["reported", "dismissed"]
    note: Prose = Field(min_length=1, max_length=2000, description="Why: kept with the alert and its report")


REPORT_EXAMPLE: dict[str, Any] = {
    "id": "8e7d6c5b-4a39-4281-9f0e-d1c2b3a49586",
    "alert_id": ALERT_EXAMPLE["id"],
    "kind": "large_value",
    "rule": "large_cash",
    "customer_id": ALERT_EXAMPLE["customer_id"],
    "account_id": ALERT_EXAMPLE["account_id"],
    "total": "50000.00",
    "total_minor": 5_000_000,
    "currency": "CNY",
    "filed_by": "9b1c7a2e-0000-4000-8000-00000000f001",
    "note": "cash deposit over the threshold",
    "filed_at": "2026-11-30T09:25:00Z",
}


class ReportPublic(BaseModel):
    """A large-value (大额交易报告) or suspicious-transaction (可疑交易报告) report."""

    model_config = ConfigDict(json_schema_extra={"examples": [REPORT_EXAMPLE]})

    id: str
    alert_id: str
    kind: Literal["large_value", "suspicious"]
    rule: AlertRule
    customer_id: str
    account_id: str
    total: str
    total_minor: int
    currency: str
    filed_by: str
    note: str
    filed_at: datetime


class ReportPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [REPORT_EXAMPLE], "next_cursor": None}]})

    items: list[ReportPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")
