"""Gateway routes for insurance: filled in by the insurance issue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["insurance"])
