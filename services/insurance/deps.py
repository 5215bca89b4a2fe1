"""The insurance routes' typed dependencies: what `create_app` made, by type, and who may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.insurance.handlers import Context
from shared.accounts_client import UNAVAILABLE, AccountsClient
from shared.auth import ROLE_ADJUSTER, ROLE_COMPLIANCE, ROLE_OPERATOR, CurrentPrincipal, Principal, require_role
from shared.problems import Problem, documents
from shared.web import RuntimeDep, from_state

ContextDep = Annotated[Context, from_state("ctx")]
AccountsDep = Annotated[AccountsClient, from_state("accounts", problems=UNAVAILABLE)]
Adjuster = Annotated[Principal, Depends(require_role(ROLE_ADJUSTER))]


@documents({403: "the caller is neither an adjuster nor an operator"})
async def staff(principal: CurrentPrincipal) -> Principal:
    """An adjuster or an operator: who may read any customer's claim files and e-policies."""
    if not (principal.has(ROLE_ADJUSTER) or principal.has(ROLE_OPERATOR)):
        raise Problem(403, "forbidden", "this operation needs the adjuster or operator role")
    return principal


Staff = Annotated[Principal, Depends(staff)]


@documents({403: "the caller is not an adjuster, an operator or a compliance officer"})
async def flag_reader(principal: CurrentPrincipal) -> Principal:
    """Who may read the flagged-claims queue: adjusters and operators, and compliance."""
    if not any(principal.has(r) for r in (ROLE_ADJUSTER, ROLE_OPERATOR, ROLE_COMPLIANCE)):
        raise Problem(403, "forbidden", "this operation needs the adjuster, operator or compliance role")
    return principal


FlagReader = Annotated[Principal, Depends(flag_reader)]

__all__ = ["AccountsDep", "Adjuster", "ContextDep", "FlagReader", "RuntimeDep", "Staff"]
