"""The ledger check's rules on the sagas behind active holds (DESIGN.md section 5: every
hold belongs to a live saga). Accounts knows each hold and the service that reserved it;
that service knows the saga. Pure: the route in gateway/ops/api.py gathers both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from shared.schemas.accounts import ActiveHold, LedgerViolation
from shared.schemas.sagas import HeldSagas

# Each rule is named for what must hold, as accounts' own rules are.
SAGA_WITHIN_DEADLINE = "hold_saga_within_deadline"
SAGA_NOT_ENDED = "hold_saga_not_ended"
HAS_SAGA = "hold_has_saga"


def owned_holds(holds: Sequence[ActiveHold], owners: Sequence[str]) -> dict[str, list[str]]:
    """The ids of the active holds each service reserved, for the services in `owners`."""
    found: dict[str, list[str]] = {}
    for hold in holds:
        if hold.reserved_by is not None and hold.reserved_by in owners:
            found.setdefault(hold.reserved_by, []).append(hold.id)
    return found


def hold_violations(
    holds: Sequence[ActiveHold], listed_at: datetime, answers: Mapping[str, HeldSagas | None], grace: timedelta
) -> list[LedgerViolation]:
    """What is wrong with the sagas behind `holds`, which accounts listed as active at
    `listed_at`, from their owners' `answers` (None: the owner did not answer, and its
    holds are left to accounts' age rule):

    - the owner has no saga behind the hold: nothing will ever settle it;
    - the saga ended more than `grace` before accounts listed the hold: its capture or
      release never landed;
    - the saga is more than `grace` past its deadline: nothing is acting on it."""
    found: list[LedgerViolation] = []
    by_hold = {
        (owner, saga.hold_id): saga for owner, answer in answers.items() if answer is not None for saga in answer.items
    }
    for hold in holds:
        owner = hold.reserved_by
        answer = answers.get(owner) if owner is not None else None
        if owner is None or answer is None:
            continue
        what = f"hold {hold.id} ({hold.reference})"
        saga = by_hold.get((owner, hold.id))
        if saga is None:
            found.append(
                LedgerViolation(
                    rule=HAS_SAGA,
                    detail=f"{what} has no saga at {owner}, which reserved it: nothing will settle it",
                    account_id=hold.account_id,
                )
            )
        elif saga.outcome is not None:
            if saga.ended_at is not None and saga.ended_at < listed_at - grace:
                found.append(
                    LedgerViolation(
                        rule=SAGA_NOT_ENDED,
                        detail=f"{what} is still active, but {owner}'s {saga.kind} saga {saga.id} ended "
                        f"{saga.outcome} at {saga.ended_at.isoformat()}",
                        account_id=hold.account_id,
                    )
                )
        elif saga.deadline_at is not None and saga.deadline_at < answer.checked_at - grace:
            overdue = (answer.checked_at - saga.deadline_at).total_seconds()
            found.append(
                LedgerViolation(
                    rule=SAGA_WITHIN_DEADLINE,
                    detail=f"{what}: {owner}'s {saga.kind} saga {saga.id} is {overdue:.0f} s past its deadline "
                    f"at step {saga.step} (attempt {saga.attempts}): nothing is moving it",
                    account_id=hold.account_id,
                )
            )
    return found
