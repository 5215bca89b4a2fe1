"""The home screen's body: what each service contributes, and what was missing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas.accounts import AccountPublic
from shared.schemas.payments import PaymentPublic

Service = Literal["accounts", "securities", "insurance", "payments"]
RECENT = 5


class PortfolioSummary(BaseModel):
    market_value: str
    market_value_minor: int
    cost: str
    cost_minor: int
    unrealised_pnl: str
    unrealised_pnl_minor: int
    positions: int = Field(description="How many symbols are held")


class PolicySummary(BaseModel):
    id: str
    number: str
    product_code: str
    status: str
    sum_insured: str
    sum_insured_minor: int
    premium: str
    premium_minor: int
    currency: str
    starts_on: date | None
    ends_on: date | None
    covered_from: date | None


class ClaimSummary(BaseModel):
    id: str
    number: str
    policy_id: str
    kind: str
    status: str
    amount: str
    amount_minor: int
    currency: str
    awaiting_adjuster: bool
    updated_at: datetime


class HomeCustomer(BaseModel):
    id: str
    name: str


class HomePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": {"id": "9b1c7a2e-0000-4000-8000-000000000001", "name": "Li Wei"},
                    "accounts": [
                        {
                            "id": "5a0e1d3c-0000-4000-8000-000000000101",
                            "customer_id": "9b1c7a2e-0000-4000-8000-000000000001",
                            "kind": "checking",
                            "name": "Checking",
                            "currency": "CNY",
                            "balance": "50000.00",
                            "available": "50000.00",
                            "balance_minor": 5000000,
                            "available_minor": 5000000,
                            "held_minor": 0,
                            "created_at": "2026-11-25T09:00:00Z",
                        }
                    ],
                    "total_balance": "50000.00",
                    "total_balance_minor": 5000000,
                    "portfolio": None,
                    "active_policies": [],
                    "open_claims": [],
                    "recent_activity": [],
                    "unread_notifications": 2,
                    "missing": ["securities"],
                }
            ]
        }
    )
    customer: HomeCustomer
    accounts: list[AccountPublic] | None = Field(description="With ledger and available balances")
    total_balance: str | None = Field(description="The accounts' balances added up (CNY)")
    total_balance_minor: int | None
    portfolio: PortfolioSummary | None = Field(description="Market value of the securities held, at last prices")
    active_policies: list[PolicySummary] | None
    open_claims: list[ClaimSummary] | None
    recent_activity: list[PaymentPublic] | None = Field(
        description=f"The last {RECENT} payments, made (`direction: outgoing`) and received (`incoming`)"
    )
    unread_notifications: int
    missing: list[Service] = Field(
        description="Services that did not answer in time (or erred): the parts they feed are null"
    )
