"""Gateway routes for payments: filled in by the payments issue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["payments"])
