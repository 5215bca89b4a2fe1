"""Bodies of the gateway's own endpoints (auth, sandbox deposits)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.money import AmountIn
from shared.phone import normalise_phone

# For the examples: a session of Li Wei's (shared/sandbox.py); a refresh token is `<session id>.<secret>`.
EXAMPLE_SESSION_ID = "1f6b9d3a-4c2e-4a8f-9e17-7b5d0c3a8e62"
EXAMPLE_REFRESH_TOKEN = f"{EXAMPLE_SESSION_ID}.q8Zr3vKx1LmN7pT2sW9yB4cF6hJ0dG5eA8uR1iO3nQk"


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


REGISTER_RESPONSE_EXAMPLE = {
    "customer_id": "d2a6f3b1-8c4e-4f0a-a1d7-5e9b3c2f7a10",
    "phone": "+8613812345678",
    "name": "Zhang San",
    "kyc_class": "II",
}


class RegisterResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [REGISTER_RESPONSE_EXAMPLE]})

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


TOKEN_PAIR_EXAMPLE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiI5YjFjN2EyZS0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEifQ.c2lnbmF0dXJl",
    "refresh_token": EXAMPLE_REFRESH_TOKEN,
    "token_type": "Bearer",
    "expires_in": 900,
    "session_id": EXAMPLE_SESSION_ID,
}


class TokenPair(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TOKEN_PAIR_EXAMPLE]})

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    session_id: str


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": EXAMPLE_REFRESH_TOKEN}]}
    )
    refresh_token: str = Field(min_length=10, max_length=200)


ME_EXAMPLE = {
    "id": "9b1c7a2e-0000-4000-8000-000000000001",
    "phone": "+8613800000001",
    "name": "Li Wei",
    "roles": ["customer"],
    "kyc_class": "I",
    "session_id": EXAMPLE_SESSION_ID,
}


class MeResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ME_EXAMPLE]})

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


DEPOSIT_EXAMPLE = {
    "id": "7c1e5a92-3b4d-4f6e-8a0c-9d2b1f3e5a74",
    "account_id": "5a0e1d3c-0000-4000-8000-000000000101",
    "amount": "100.00",
    "amount_minor": 10000,
    "currency": "CNY",
    "status": "pending",
    "reason": None,
    "detail": None,
    "created_at": "2025-06-02T09:30:00Z",
    "links": {
        "self": "/v1/sandbox/deposits/7c1e5a92-3b4d-4f6e-8a0c-9d2b1f3e5a74",
        "account": "/v1/accounts/5a0e1d3c-0000-4000-8000-000000000101",
    },
}


class DepositPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEPOSIT_EXAMPLE]})

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
