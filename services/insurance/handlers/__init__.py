"""insurance use cases: requests from the API and facts from accounts in, domain calls,
history rows and outgoing messages out, each in one unit of work."""

from services.insurance.handlers.claims import add_document, decide_claim, report_claim, submit_claim
from services.insurance.handlers.common import (
    ACCOUNTS,
    SYSTEM,
    Actor,
    Context,
    cancellation_refund_id,
    premium_hold_id,
)
from services.insurance.handlers.lifecycle import cancel_policy, move_policies, policies_to_move, renew_policy
from services.insurance.handlers.policies import (
    PayingAccount,
    check_repeat,
    find_purchase,
    issue_quote,
    purchase_policy,
    seed_products,
)
from services.insurance.handlers.sagas import fact_handlers, sagas_overdue

__all__ = [
    "ACCOUNTS",
    "SYSTEM",
    "Actor",
    "Context",
    "PayingAccount",
    "add_document",
    "cancel_policy",
    "cancellation_refund_id",
    "check_repeat",
    "decide_claim",
    "fact_handlers",
    "find_purchase",
    "issue_quote",
    "move_policies",
    "policies_to_move",
    "premium_hold_id",
    "purchase_policy",
    "renew_policy",
    "report_claim",
    "sagas_overdue",
    "seed_products",
    "submit_claim",
]
