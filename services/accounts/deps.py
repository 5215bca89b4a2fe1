"""The accounts routes' typed dependencies: what `create_app` made, by type."""

from __future__ import annotations

from typing import Annotated

from services.accounts.handlers import Context
from shared.web import RuntimeDep, from_state

ContextDep = Annotated[Context, from_state("ctx")]

__all__ = ["ContextDep", "RuntimeDep"]
