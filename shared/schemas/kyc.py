"""Bodies of the KYC upgrade API (accounts serves them; the gateway offers them under /v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import OneLine

KycStatusName = Literal["pending", "approved", "refused"]


class KycUpgradeCreate(BaseModel):
    """A customer's identity details for class I. The ID number's format, checksum and birth
    date are checked by accounts (problem `invalid-id-number`); in the sandbox the face match
    is the score the phone's liveness check reports, 0 to 1."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"legal_name": "Wang Fang", "id_number": "11010519491231002X", "face_match_score": 0.97}]
        },
    )
    legal_name: OneLine = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=40, description="Resident identity card number (GB 11643)")
    face_match_score: float = Field(ge=0, le=1, description="Sandbox face-match result, 0 to 1")


APPLICATION_EXAMPLE: dict[str, Any] = {
    "id": "7b0c2f4e-1d3a-4c5b-9e8f-0a1b2c3d4e5f",
    "customer_id": "5a0e1d3c-0000-4000-8000-000000000002",
    "legal_name": "Wang Fang",
    "id_number": "110105********002X",
    "face_match_score": 0.97,
    "from_class": "II",
    "to_class": "I",
    "status": "approved",
    "reason": "face_match",
    "decided_by": "system:kyc-sandbox-rule",
    "created_at": "2026-12-01T02:00:00Z",
    "decided_at": "2026-12-01T02:00:00Z",
}


class KycApplicationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [APPLICATION_EXAMPLE]})

    id: str
    customer_id: str
    legal_name: str
    id_number: str = Field(description="Masked: region code and last four characters")
    face_match_score: float
    from_class: str
    to_class: str
    status: KycStatusName
    reason: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


class KycApplicationList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [APPLICATION_EXAMPLE]}]})

    items: list[KycApplicationPublic]


class KycDecisionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "approve", "reason": "documents match"}]}
    )
    decision: Literal["approve", "refuse"]
    reason: str = Field(min_length=1, max_length=300)


class KycClassLimits(BaseModel):
    """A class's limits in fen; None: no limit. The per-payment limit is the payments
    service's (GET /v1/payments/limits shows today's use)."""

    per_payment_minor: int | None = None
    daily_outflow_minor: int | None
    balance_cap_minor: int | None


class KycPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kyc_class": "I",
                    "limits": {"per_payment_minor": 5_000_000, "daily_outflow_minor": None, "balance_cap_minor": None},
                    "application": APPLICATION_EXAMPLE,
                }
            ]
        }
    )

    kyc_class: str
    limits: KycClassLimits
    application: KycApplicationPublic | None = Field(description="The latest upgrade application, if any")
