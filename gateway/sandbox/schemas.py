"""Bodies of the sandbox controls: the clock, faults, reset, the magic-values table, the
inbox of text messages and the log of pushes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.internal import FAULT_STATE_EXAMPLE, FaultState


class ClockChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"advance_s": 86400}]})
    advance_s: float | None = Field(default=None, ge=0, le=365 * 86400, description="Move the clock forward")
    offset_s: float | None = Field(default=None, ge=0, le=10 * 365 * 86400, description="Set the offset outright")


CLOCK_PUBLIC_EXAMPLE: dict[str, Any] = {
    "offset_s": 86400.0,
    "now": "2025-06-03T09:30:00.123456+00:00",
    "services": {"accounts": "ok", "payments": "ok", "securities": "ok", "insurance": "ok"},
}


class ClockPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLOCK_PUBLIC_EXAMPLE]})

    offset_s: float
    now: str
    services: dict[str, str]


class ClockNow(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"offset_s": 86400.0, "now": "2025-06-03T09:30:00.123456+00:00", "bank_day": "2025-06-03"}]
        }
    )

    offset_s: float = Field(description="How far the sandbox clock runs ahead of real time")
    now: datetime = Field(description="Sandbox time: what every timestamp in Sandbank's answers is on")
    bank_day: date = Field(description="Today in Beijing time, the day daily limits reset on")


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


class FaultList(BaseModel):
    """The fault on each process's outgoing messages, the gateway last."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        FAULT_STATE_EXAMPLE,
                        *(
                            {
                                **FAULT_STATE_EXAMPLE,
                                "service": name,
                                "mode": "none",
                                "remaining_s": 0.0,
                                "duplicated": 0,
                            }
                            for name in ("payments", "securities", "insurance", "gateway")
                        ),
                    ]
                }
            ]
        }
    )

    items: list[FaultState]


RESET_RESULT_EXAMPLE: dict[str, Any] = {
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


class MagicValuePublic(BaseModel):
    area: str
    value: str = Field(description="The value to send, or the control to use (Markdown)")
    effect: str
    source: str = Field(description="Where the rule lives")


class MagicValues(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "area": "transfer",
                            "value": "amount exactly `666.66`",
                            "effect": "after the hold: risk rejects (`rule: sandbox_magic_amount`), the hold is "
                            "released, the payment fails `risk_rejected`. Transfers only, not bills, QR or top-ups",
                            "source": "`services/payments/domain.py` (`RISK_MAGIC_AMOUNT`)",
                        }
                    ]
                }
            ]
        }
    )
    items: list[MagicValuePublic]


INBOX_EXAMPLE: dict[str, Any] = {
    "items": [
        {
            "id": 42,
            "phone": "+8613812345678",
            "kind": "registration_code",
            "body": "493027 is your code to register this number with Sandbank. It expires in 10 minutes. "
            "Never share it.",
            "code": "493027",
            "created_at": "2026-11-25T14:00:00Z",
        }
    ]
}


class InboxMessage(BaseModel):
    id: int
    phone: str
    kind: Literal["step_up_code", "registration_code"]
    body: str
    code: str | None = Field(description="The one-time code the message carries, if any")
    created_at: datetime


class InboxPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INBOX_EXAMPLE]})

    items: list[InboxMessage] = Field(description="Newest first")


PUSH_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "customer_id": "5a0e1d3c-0000-4000-8000-000000000002",
    "notification_id": 42,
    "device_id": "iphone-15-abc",
    "platform": "apns",
    "token": "9f3c1a7e5b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
    "kind": "payment_received",
    "title": "Money received",
    "body": "You received 88.80 CNY into account …0201.",
    "data": {"payment_id": "7d1c2e4a-5b6f-4c3d-9e8f-0a1b2c3d4e5f", "amount": "88.80", "currency": "CNY"},
    "created_at": "2026-11-25T14:01:02.391Z",
}


class PushDelivery(BaseModel):
    id: int
    customer_id: str
    notification_id: int | None = Field(
        description="The notification pushed, as `GET /v1/notifications` lists it: mark it read with "
        "`POST /v1/notifications/{id}/read`, or skip a push for one the app has shown (null on pushes "
        "logged before pushes carried it)"
    )
    device_id: str
    platform: Literal["apns", "fcm"]
    token: str = Field(description="The device's push token when it was sent")
    kind: str = Field(description="The notification's kind; `GET /v1/notifications` has the notification")
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime


class PushDeliveryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [PUSH_DELIVERY_EXAMPLE]}]})

    items: list[PushDelivery] = Field(description="Newest first")
