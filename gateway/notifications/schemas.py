"""Bodies of the notifications endpoints: notifications, their pages, and the watchlist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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


PAGE_EXAMPLE: dict[str, Any] = {"items": [EXAMPLE], "next_cursor": "42", "unread_count": 3}


class NotificationPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAGE_EXAMPLE]})
    items: list[NotificationPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for older notifications")
    unread_count: int


class Watchlist(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"symbols": ["600519", "300750"]}]})
    symbols: list[Annotated[str, Field(pattern=r"^\d{6}$")]] = Field(
        max_length=50, description="A-share codes; a price alert on one becomes a notification"
    )
