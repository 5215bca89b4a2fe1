"""Bodies of the identity endpoints: registration and login, tokens, sessions, step-up challenges."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.phone import normalise_phone
from shared.schemas import OneLine

# For the examples: a session of Li Wei's (shared/sandbox.py); a refresh token is `<session id>.<secret>`.
EXAMPLE_SESSION_ID = "1f6b9d3a-4c2e-4a8f-9e17-7b5d0c3a8e62"
EXAMPLE_REFRESH_TOKEN = f"{EXAMPLE_SESSION_ID}.q8Zr3vKx1LmN7pT2sW9yB4cF6hJ0dG5eA8uR1iO3nQk"


class RegistrationStart(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"phone": "+8613812345678"}]})
    phone: str = Field(max_length=30)

    _phone = field_validator("phone")(normalise_phone)


class RegistrationStarted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "phone": "+8613812345678",
                    "expires_at": "2026-11-25T14:10:00Z",
                    "detail": "a text message was sent to this number: register with the code it carries",
                }
            ]
        }
    )
    phone: str
    expires_at: datetime = Field(description="When a code sent now expires")
    detail: str = "a text message was sent to this number: register with the code it carries"


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone": "+8613812345678", "code": "493027", "password": "correct horse battery", "name": "Zhang San"}
            ]
        },
    )
    phone: str = Field(max_length=30)
    code: str = Field(pattern=r"^[0-9]{6}$", description="The six-digit code sent by SMS to the phone")
    # The rules themselves (10 to 128 characters ...) answer 422 `weak-password` naming the one broken.
    password: str = Field(
        min_length=1,
        max_length=1024,
        description="10 to 128 characters; not a common password, not the phone number, not one character repeated",
    )
    name: OneLine = Field(min_length=1, max_length=100)

    _phone = field_validator("phone")(normalise_phone)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v


REGISTER_RESPONSE_EXAMPLE: dict[str, Any] = {
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
    device_id: str = Field(
        default="unknown-device",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="The app's id for this device (letters, digits, `._:-`): the one its push token is set under",
    )
    # A login from a device the customer has not used answers 401 step-up-required with a
    # challenge_id; the same login with it and the code from the SMS binds the device.
    challenge_id: str | None = Field(default=None, min_length=1, max_length=36)
    code: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="The six-digit code sent by SMS")


TOKEN_PAIR_EXAMPLE: dict[str, Any] = {
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
    # No length rule here: a malformed token is as invalid as an unknown one (401
    # `invalid-refresh-token`), so an app handles one answer, not a 422 and a 401.
    refresh_token: str = Field(description="`<session id>.<secret>`, as login or the last refresh gave it")


ME_EXAMPLE: dict[str, Any] = {
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


class SessionPublic(BaseModel):
    id: str
    device_id: str
    created_at: datetime
    last_used_at: datetime = Field(description="The last authenticated request (to within a few seconds)")
    expires_at: datetime = Field(description="When its refresh token stops working")
    current: bool = Field(description="The session this request was made in")


class SessionList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "c0a80f6e-3b1d-4f2a-9e4c-7d5b6a8f9e01",
                            "device_id": "iphone-15-abc",
                            "created_at": "2026-11-25T08:00:00Z",
                            "last_used_at": "2026-11-25T14:02:11Z",
                            "expires_at": "2026-12-25T08:00:00Z",
                            "current": True,
                        },
                        {
                            "id": "5e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b",
                            "device_id": "ipad-air-xyz",
                            "created_at": "2026-11-20T19:30:00Z",
                            "last_used_at": "2026-11-21T07:45:02Z",
                            "expires_at": "2026-12-20T19:30:00Z",
                            "current": False,
                        },
                    ]
                }
            ]
        }
    )
    items: list[SessionPublic]


class ChallengeApproval(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "493027"}]})
    code: str = Field(pattern=r"^[0-9]{6}$", description="The six-digit code sent by SMS")


class ChallengePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6f3f0e-8d0c-4a59-9a57-3c1e4f0f1c11",
                    "status": "approved",
                    "operation": "transfer",
                    "amount": "6000.00",
                    "amount_minor": 600000,
                    "currency": "CNY",
                    "reason": "amount",
                    "attempts_left": 5,
                    "expires_at": "2026-11-25T14:05:00Z",
                    "approved_at": "2026-11-25T14:01:12Z",
                }
            ]
        }
    )
    id: str
    status: str = Field(description="pending, approved or locked")
    operation: str
    amount: str
    amount_minor: int
    currency: str
    reason: str = Field(description="amount (above the step-up amount) or new_payee")
    attempts_left: int
    expires_at: datetime
    approved_at: datetime | None = None
