"""Step-up (strong customer authentication) where the money moves: the rule, the answer
that asks for a code, and the gateway's signed word that the customer approved one payment.

Payments decides. It validates the request, resolves payer and payee and checks the
limits first; only a payment that could go through is then held to the rule here. One
that needs a code and carries no approval of exactly it is answered 403
`step-up-required` (`StepUpMissing`) with the facts an approval must bind (`Required`:
operation, payee key, amount, currency, the paying account, and why), and nothing is
written. The gateway
(gateway/identity/stepup.py) turns that answer into a challenge for exactly those facts,
a one-time code sent to the customer, and answers the phone 401. Once approved, the same
request under the same Idempotency-Key is forwarded again with an approval: a token
signed by the gateway for payments alone, bound to the customer, those facts and the key,
living as long as a challenge does. So an invalid payment (an unknown payee, over the
KYC limit) is refused at once and costs the customer no code, and a request that skips
the gateway skips nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.auth import TokenIssuer
from shared.problems import Problem
from shared.settings import AuthSettings

# The header the approval travels in, from the gateway to payments.
HEADER = "sandbank-step-up"
AUDIENCE = "payments"
CODE = "step-up-required"


@dataclass(frozen=True)
class StepUpPolicy:
    amount_minor: int
    new_payee_minor: int

    @classmethod
    def of(cls, auth: AuthSettings) -> StepUpPolicy:
        return cls(auth.stepup_amount_minor, auth.stepup_new_payee_minor)

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

    def limit_minor(self, reason: str) -> int:
        """The amount above which `reason` asks for a code."""
        return self.amount_minor if reason == "amount" else self.new_payee_minor


@dataclass(frozen=True)
class Payment:
    """One payment as payments will make it: what a challenge and an approval are bound to."""

    operation: str  # transfer | bill | qr | topup
    payee: str  # a payee key of shared/payees.py
    amount_minor: int
    currency: str
    # The account it is paid from: a code approves money leaving that account only. "" for
    # what moves no money (a device's login, gateway/identity/devices.py).
    payer: str


@dataclass(frozen=True)
class Approved(Payment):
    """One payment a customer approved with a code, under its Idempotency-Key."""

    idempotency_key: str

    def claims(self) -> dict[str, object]:
        return {
            "op": self.operation,
            "payee": self.payee,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "payer": self.payer,
            "key": self.idempotency_key,
        }


@dataclass(frozen=True)
class Required:
    """Payments' word that `payment` needs the customer's code: why, and above what amount."""

    payment: Payment
    reason: str  # amount | new_payee
    limit_minor: int

    def facts(self) -> dict[str, Any]:
        p = self.payment
        return {
            "operation": p.operation,
            "payee": p.payee,
            "amount_minor": p.amount_minor,
            "currency": p.currency,
            "payer": p.payer,
            "reason": self.reason,
            "limit_minor": self.limit_minor,
        }

    @classmethod
    def from_problem(cls, status: int, body: Any) -> Required | None:
        """The facts of a `StepUpMissing` answer (payments' problem+json), or None for any other."""
        if status != 403 or not isinstance(body, dict) or not str(body.get("type", "")).endswith(f"/{CODE}"):
            return None
        try:
            payment = Payment(
                str(body["operation"]),
                str(body["payee"]),
                int(body["amount_minor"]),
                str(body["currency"]),
                str(body["payer"]),
            )
            return cls(payment, str(body["reason"]), int(body["limit_minor"]))
        except (KeyError, TypeError, ValueError):
            return None


def approval(tokens: TokenIssuer, customer_id: str, approved: Approved, ttl_s: int) -> str:
    """The gateway's signed approval of `approved`, for payments."""
    return tokens.issue(customer_id, [], audience=AUDIENCE, ttl_s=ttl_s, extra={"step_up": approved.claims()})


class StepUpMissing(Problem):
    """403 `step-up-required`: the payment is valid and needs the customer's code; the
    problem carries `Required.facts()` for the gateway to make the challenge from."""

    def __init__(self, required: Required, detail: str) -> None:
        super().__init__(403, CODE, detail, **required.facts())
        self.required = required


def check_approval(tokens: TokenIssuer, token: str | None, customer_id: str, required: Required, key: str) -> None:
    """Refuse the payment unless `token` is the gateway's approval of exactly
    `required.payment` under `key` for `customer_id`."""
    if not token:
        raise StepUpMissing(required, "this payment needs the customer's one-time code: make it through the gateway")
    p = required.payment
    wanted = Approved(p.operation, p.payee, p.amount_minor, p.currency, p.payer, key)
    signer, claims = tokens.claims(token)
    if signer != "gateway" or claims.get("sub") != customer_id or claims.get("step_up") != wanted.claims():
        raise StepUpMissing(required, "the step-up approval does not cover this payment")
