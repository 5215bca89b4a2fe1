"""Bodies of the webhooks endpoints: endpoints (with their secret, once), deliveries and
their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.webhooks.rules import ALL, EVENT_TYPES, MAX_URL_LENGTH, TEST_EVENT
from shared.schemas import Prose

EVENTS_DOC = f"Event types: {', '.join(EVENT_TYPES)}; or {ALL} for every one"
DeliveryStatus = Literal["pending", "succeeded", "failed"]

ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": "0f8e2b1c-3d4a-4b5c-8d6e-7f8091a2b3c4",
    "url": "https://shop.example.com/hooks/sandbank",
    "events": ["payment_received", "payment_failed"],
    "description": "order service",
    "enabled": True,
    "scope": "customer",
    "created_at": "2026-11-25T14:00:00Z",
    "updated_at": "2026-11-25T14:00:00Z",
    "previous_secret_expires_at": None,
}
SECRET_EXAMPLE = "whsec_3q2-7wN0pX0aVt0Hc6fWb6YbQmWq2kqZq1mJc1y2Z3c"


class EndpointCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://shop.example.com/hooks/sandbank",
                    "events": ["payment_received", "payment_failed"],
                    "description": "order service",
                }
            ]
        },
    )
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="http or https, without a user or password")
    events: list[str] = Field(min_length=1, max_length=50, description=EVENTS_DOC)
    description: Prose = Field(default="", max_length=500)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": ["*"]}, {"enabled": False}]})
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50, description=EVENTS_DOC)
    description: Prose | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, strict=True, description="A disabled endpoint is sent nothing, and keeps nothing new"
    )


class EndpointPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ENDPOINT_EXAMPLE]})
    id: str
    url: str
    events: list[str] = Field(description=EVENTS_DOC)
    description: str
    enabled: bool
    scope: Literal["customer", "all"] = Field(
        description="`customer`: your own events; `all`: an operator's endpoint, every customer's events"
    )
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are also signed with the secret before the last rotation"
    )


class EndpointWithSecret(EndpointPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [ENDPOINT_EXAMPLE | {"secret": SECRET_EXAMPLE}]})
    secret: str = Field(description="The signing secret: shown this once, keep it (docs/webhooks.md)")


class EndpointList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [ENDPOINT_EXAMPLE]}]})
    items: list[EndpointPublic] = Field(description="Oldest first")


DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": 17,
    "endpoint_id": ENDPOINT_EXAMPLE["id"],
    "event_id": "evt_5f1a2b3c4d5e6f708192a3b4",
    "event_type": "payment_received",
    "status": "succeeded",
    "attempts": 3,
    "last_status_code": 200,
    "next_attempt_at": None,
    "replay_of": None,
    "created_at": "2026-11-25T14:01:02.391Z",
    "completed_at": "2026-11-25T14:01:05.512Z",
}
ATTEMPT_EXAMPLE: dict[str, Any] = {
    "number": 1,
    "attempted_at": "2026-11-25T14:01:02.402Z",
    "status_code": 500,
    "response_excerpt": "upstream database unavailable",
    "duration_ms": 12,
    "error": None,
}
EVENT_EXAMPLE: dict[str, Any] = {
    "id": DELIVERY_EXAMPLE["event_id"],
    "type": "payment_received",
    "created": 1764079262,
    "data": {
        "title": "Money received",
        "body": "You received 88.80 CNY into account …0201.",
        "payment_id": "7d1c2e4a-5b6f-4c3d-9e8f-0a1b2c3d4e5f",
        "amount": "88.80",
        "amount_minor": 8880,
        "currency": "CNY",
        "customer_id": "9b1c7a2e-0000-4000-8000-000000000002",
        "notification_id": 42,
    },
}


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DELIVERY_EXAMPLE]})
    id: int
    endpoint_id: str
    event_id: str = Field(description="The event's id, sent as `Sandbank-Webhook-Id`: the same on every attempt")
    event_type: str = Field(description=f"{EVENTS_DOC}; `{TEST_EVENT}` for a test event")
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = Field(description="The receiver's last answer; null if it gave none")
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next (wall clock)")
    replay_of: int | None = Field(description="The delivery this one sends again")
    created_at: datetime
    completed_at: datetime | None


class AttemptPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ATTEMPT_EXAMPLE]})
    number: int
    attempted_at: datetime
    status_code: int | None = Field(description="null when no answer came (timeout, refused connection)")
    response_excerpt: str = Field(description="The start of the receiver's answer, at most 1 KiB")
    duration_ms: int
    error: str | None = Field(description="Why no answer came")


class DeliveryDetail(DeliveryPublic):
    model_config = ConfigDict(
        json_schema_extra={"examples": [DELIVERY_EXAMPLE | {"event": EVENT_EXAMPLE, "attempt_log": [ATTEMPT_EXAMPLE]}]}
    )
    event: dict[str, Any] = Field(description="The body every attempt POSTs: `{id, type, created, data}`")
    attempt_log: list[AttemptPublic]


class DeliveryPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [DELIVERY_EXAMPLE], "next_cursor": "ZGVsaXZlcmllc3wxNw"}]}
    )
    items: list[DeliveryPublic] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as ?cursor= for older deliveries")
