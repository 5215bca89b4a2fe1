"""Step-up (strong customer authentication) where the money moves: the rule, and the
gateway's signed word that the customer approved one payment.

The gateway asks the customer for a one-time code (gateway/identity/stepup.py) and,
once approved, forwards the payment with an approval: a token signed by the gateway for
payments alone, bound to the customer, the operation, the payee, the amount and the
Idempotency-Key, living as long as a challenge does. Payments applies the same rule to
the payment it is about to make and refuses it without a matching approval, so a
request that skips the gateway skips nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import TokenIssuer
from shared.problems import Problem

# The header the approval travels in, from the gateway to payments.
HEADER = "sandbank-step-up"
AUDIENCE = "payments"


@dataclass(frozen=True)
class StepUpPolicy:
    amount_minor: int
    new_payee_minor: int

    def asks_about_payee(self, *, amount_minor: int, is_transfer: bool) -> bool:
        """Whether the answer depends on the payee being new (worth a look-up)."""
        return is_transfer and self.new_payee_minor < amount_minor <= self.amount_minor

    def reason(self, *, amount_minor: int, is_transfer: bool, payee_known: bool) -> str | None:
        """Why this payment needs a one-time code, or None."""
        if amount_minor > self.amount_minor:
            return "amount"
        if is_transfer and amount_minor > self.new_payee_minor and not payee_known:
            return "new_payee"
        return None


@dataclass(frozen=True)
class Approved:
    """One payment a customer approved with a code: what the approval is bound to."""

    operation: str  # transfer | bill | qr | topup
    payee: str  # a payee key of shared/payees.py
    amount_minor: int
    currency: str
    idempotency_key: str

    def claims(self) -> dict[str, object]:
        return {
            "op": self.operation,
            "payee": self.payee,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "key": self.idempotency_key,
        }


def approval(tokens: TokenIssuer, customer_id: str, approved: Approved, ttl_s: int) -> str:
    """The gateway's signed approval of `approved`, for payments."""
    return tokens.issue(customer_id, [], audience=AUDIENCE, ttl_s=ttl_s, extra={"step_up": approved.claims()})


class StepUpMissing(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, "step-up-required", detail)


def check_approval(tokens: TokenIssuer, token: str | None, customer_id: str, wanted: Approved) -> None:
    """Refuse the payment unless `token` is the gateway's approval of exactly `wanted` for
    `customer_id`."""
    if not token:
        raise StepUpMissing("this payment needs the customer's one-time code: make it through the gateway")
    signer, claims = tokens.claims(token)
    if signer != "gateway" or claims.get("sub") != customer_id or claims.get("step_up") != wanted.claims():
        raise StepUpMissing("the step-up approval does not cover this payment")
