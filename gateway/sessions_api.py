"""The user's own sessions: where they are logged in, and ending one from another device."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.api import PROBLEM, SessionsDep
from gateway.sessions import Authenticated

router = APIRouter(prefix="/v1/me", tags=["auth"], responses={401: PROBLEM})


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


@router.get("/sessions", response_model=SessionList)
async def list_sessions(principal: Authenticated, sessions: SessionsDep) -> SessionList:
    """Your live sessions, newest first: the device each is bound to, when it began and
    was last used, and which one is this."""
    views = await sessions.live_sessions(principal.subject)
    return SessionList(
        items=[
            SessionPublic(
                id=v.id,
                device_id=v.device_id,
                created_at=v.created_at,
                last_used_at=v.last_used_at,
                expires_at=v.expires_at,
                current=v.id == principal.session_id,
            )
            for v in views
        ]
    )


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response, responses={404: PROBLEM})
async def revoke_session(
    session_id: Annotated[str, Path(min_length=1, max_length=36)], principal: Authenticated, sessions: SessionsDep
) -> Response:
    """Log a device out: its access and refresh tokens stop working at once. Ending
    the current session is a logout. Someone else's session is a 404."""
    await sessions.revoke_own(principal.subject, session_id)
    return Response(status_code=204)
