"""The payments routes' typed dependencies: what `create_app` made, by type."""

from __future__ import annotations

from typing import Annotated

from services.payments.domain import LookupAllowance
from services.payments.handlers import Context
from shared.accounts_client import UNAVAILABLE, AccountsClient
from shared.web import RuntimeDep, from_state

ContextDep = Annotated[Context, from_state("ctx")]
AccountsDep = Annotated[AccountsClient, from_state("accounts", problems=UNAVAILABLE)]
LookupsDep = Annotated[LookupAllowance, from_state("lookups")]

__all__ = ["AccountsDep", "ContextDep", "LookupsDep", "RuntimeDep"]
