"""The insurance routes' typed dependencies: what `create_app` made, by type, and who may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.insurance.handlers import Context
from shared.accounts_client import UNAVAILABLE, AccountsClient
from shared.auth import ROLE_ADJUSTER, Principal, require_role
from shared.web import RuntimeDep, from_state

ContextDep = Annotated[Context, from_state("ctx")]
AccountsDep = Annotated[AccountsClient, from_state("accounts", problems=UNAVAILABLE)]
Adjuster = Annotated[Principal, Depends(require_role(ROLE_ADJUSTER))]

__all__ = ["AccountsDep", "Adjuster", "ContextDep", "RuntimeDep"]
