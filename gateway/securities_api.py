"""Gateway routes for securities: filled in by the securities issue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["securities"])
