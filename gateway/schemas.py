"""Bodies of the gateway's own endpoints (auth, sandbox deposits)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.money import AmountIn
from shared.phone import normalise_phone


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone": "+8613812345678", "password": "correct horse battery", "name": "Zhang San"}]
        },
    )
    phone: str = Field(max_length=30)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=100)

    _phone = field_validator("phone")(normalise_phone)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v


class RegisterResponse(BaseModel):
    customer_id: str
    phone: str
    name: str
    kyc_class: str


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone": "+8613800000001", "password": "sandbank-demo-1", "device_id": "iphone-15-abc"}]
        },
    )
    phone: str = Field(max_length=30)
    password: str = Field(min_length=1, max_length=128)
    device_id: str = Field(default="unknown-device", min_length=1, max_length=100)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    session_id: str


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=10, max_length=200)


class MeResponse(BaseModel):
    id: str
    phone: str
    name: str
    roles: list[str]
    kyc_class: str | None = None
    session_id: str | None = None


class DepositCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"account_id": "5a0e1d3c-0000-4000-8000-000000000101", "amount": "100.00", "currency": "CNY"}]
        },
    )
    account_id: str = Field(min_length=1, max_length=64)
    amount: AmountIn
    currency: str = Field(default="CNY", max_length=3)


class DepositPublic(BaseModel):
    id: str
    account_id: str
    amount: str
    amount_minor: int
    currency: str
    status: Literal["pending", "completed", "failed"]
    reason: str | None = None
    detail: str | None = None
    created_at: datetime
    links: dict[str, str]
