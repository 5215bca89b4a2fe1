"""Bodies of the notifications endpoints: notifications, their pages, and the watchlist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.notifications.notify import KINDS

EXAMPLE: dict[str, Any] = {
    "id": 42,
    "kind": "payment_received",
    "title": "Money received",
    "body": "You received 88.80 CNY into account …0201.",
    "data": {
        "payment_id": "7d1c2e4a-5b6f-4c3d-9e8f-0a1b2c3d4e5f",
        "payment_kind": "transfer",
        "amount": "88.80",
        "amount_minor": 8880,
        "currency": "CNY",
        "payee_account_id": "5a0e1d3c-0000-4000-8000-000000000201",
    },
    "event_at": "2026-11-25T14:01:02.345Z",
    "created_at": "2026-11-25T14:01:02.391Z",
    "read": False,
    "read_at": None,
}


class NotificationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})
    id: int = Field(description="Grows with every notification; the stream's event id")
    kind: str = Field(description=f"One of: {', '.join(KINDS)}")
    title: str
    body: str
    data: dict[str, Any] = Field(description="The facts behind it (ids, amounts), by kind")
    event_at: datetime = Field(
        description="When the event it reports happened, on the sandbox clock (GET /v1/sandbox/clock)"
    )
    created_at: datetime = Field(description="When the notification was written, on the sandbox clock")
    read: bool
    read_at: datetime | None = None


PAGE_EXAMPLE: dict[str, Any] = {"items": [EXAMPLE], "next_cursor": "bm90aWZpY2F0aW9uc3w0Mg", "unread_count": 3}


class NotificationPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAGE_EXAMPLE]})
    items: list[NotificationPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for older notifications")
    unread_count: int


class Watchlist(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"symbols": ["600519", "300750"]}]})
    symbols: list[Annotated[str, Field(pattern=r"^[0-9]{6}$")]] = Field(
        max_length=50, description="A-share codes; a price alert on one becomes a notification"
    )


class ReadAll(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"marked": 3, "unread_count": 0}]})
    marked: int = Field(description="How many were unread and are now read")
    unread_count: int = Field(description="Unread after this: 0, or those newer than `before_id`")


# --- devices' push tokens -----------------------------------------------------------------------

PUSH_TOKEN_EXAMPLE: dict[str, Any] = {
    "device_id": "iphone-15-abc",
    "platform": "apns",
    "token": "9f3c1a7e5b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
    "created_at": "2026-11-25T14:00:00Z",
    "updated_at": "2026-11-25T14:00:00Z",
}


class PushTokenSet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"platform": "apns", "token": PUSH_TOKEN_EXAMPLE["token"]},
                {"platform": "fcm", "token": "eKq3xY0pT8u:APA91bH-sandbox_fcm_token_0123456789"},
            ]
        },
    )
    platform: Literal["apns", "fcm"] = Field(description="Apple Push Notification service or Firebase Cloud Messaging")
    token: str = Field(
        min_length=8, max_length=512, pattern=r"^[A-Za-z0-9_:.\-]+$", description="As the platform gave it to the app"
    )


class PushTokenPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PUSH_TOKEN_EXAMPLE]})
    device_id: str
    platform: Literal["apns", "fcm"]
    token: str
    created_at: datetime
    updated_at: datetime


class PushTokenList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [PUSH_TOKEN_EXAMPLE]}]})
    items: list[PushTokenPublic] = Field(description="By device id")


# --- notification preferences -------------------------------------------------------------------


class PreferencePublic(BaseModel):
    kind: str = Field(description=f"One of: {', '.join(KINDS)}")
    push: bool = Field(description="Pushed to your devices; the in-app list keeps every kind either way")
    locked: bool = Field(description="A security kind: always pushed, it cannot be turned off")


PREFERENCES_EXAMPLE: dict[str, Any] = {
    "items": [
        {"kind": "payment_received", "push": True, "locked": False},
        {"kind": "price_alert", "push": False, "locked": False},
        {"kind": "stepup_code", "push": True, "locked": True},
    ]
}


class Preferences(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PREFERENCES_EXAMPLE]})
    items: list[PreferencePublic] = Field(description="Every kind, in the order of `GET /v1/notifications` kinds")


class PreferenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=40)
    push: bool = Field(strict=True, description='JSON\'s true or false: not `"no"`, `0` or `"off"`')


class PreferencesSet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"items": [{"kind": "price_alert", "push": False}, {"kind": "order_filled", "push": False}]}]
        },
    )
    items: list[PreferenceChange] = Field(
        max_length=100, description="Your choices; a kind left out is pushed (the default)"
    )
