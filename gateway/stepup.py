"""Step-up authentication (strong customer authentication) for money-moving requests.

A payment above `AUTH_STEPUP_AMOUNT_MINOR`, or a transfer above the lower
`AUTH_STEPUP_NEW_PAYEE_MINOR` to a payee the customer has never paid, is answered
401 `step-up-required` with a challenge: a six-digit code delivered as a notification
(the sandbox's SMS). `POST /v1/auth/challenges/{id}` with the code approves it, and the
same request repeated with the same Idempotency-Key then goes through. The approval is
bound to the customer, the operation, the payee, the amount and the key, so it cannot
approve anything else; the code expires after `AUTH_STEPUP_TTL_S` and five wrong tries
lock it. Only an HMAC of the code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from gateway import notifications, notify, store
from gateway.api import PROBLEM, Customer
from gateway.hub import NotificationHub
from gateway.idempotency import Idempotency, fingerprint, read_key
from shared.auth import Principal
from shared.clock import Clock
from shared.money import format_minor
from shared.problems import Problem, not_found
from shared.runtime import Runtime
from shared.settings import AuthSettings

# A customer may be sent this many codes an hour: with five tries each, guessing one
# stays hopeless even for a client that keeps asking for new challenges.
MAX_CHALLENGES_PER_HOUR = 10


# --- the rules (pure) ----------------------------------------------------------------------


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


class Verdict(StrEnum):
    APPROVED = "approved"
    WRONG_CODE = "wrong_code"
    LOCKED = "locked"
    EXPIRED = "expired"
    ALREADY_APPROVED_OTHER_CODE = "already_approved"


@dataclass(frozen=True)
class ChallengeState:
    status: str  # pending | approved | locked
    attempts: int
    expires_at: datetime


def attempt(
    state: ChallengeState, *, code_ok: bool, now: datetime, max_attempts: int
) -> tuple[Verdict, ChallengeState]:
    """One try of a code against a challenge: the verdict and the challenge's next state.

    Expiry is checked before the code, so an expired challenge tells nothing about it."""
    if state.status == "locked":
        return Verdict.LOCKED, state
    if state.status == "approved":
        return (Verdict.APPROVED if code_ok else Verdict.ALREADY_APPROVED_OTHER_CODE), state
    if now >= state.expires_at:
        return Verdict.EXPIRED, state
    if code_ok:
        return Verdict.APPROVED, ChallengeState("approved", state.attempts, state.expires_at)
    attempts = state.attempts + 1
    status = "locked" if attempts >= max_attempts else "pending"
    return Verdict.WRONG_CODE, ChallengeState(status, attempts, state.expires_at)


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def code_hash(secret: str, challenge_id: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


# --- the challenges ------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    """What a challenge approves: one money-moving request, as the gateway read it."""

    operation: str  # transfer | bill | qr | topup
    payee: str  # account:<id> | phone:<+86...> | biller:<code>:<ref> | qr:<payload> | mobile:<phone>
    amount_minor: int
    currency: str


class Challenges:
    def __init__(self, runtime: Runtime, hub: NotificationHub, settings: AuthSettings, clock: Clock) -> None:
        self.runtime = runtime
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.policy = StepUpPolicy(settings.stepup_amount_minor, settings.stepup_new_payee_minor)
        self.ttl = timedelta(seconds=settings.stepup_ttl_s)

    async def payee_paid_before(self, customer_id: str, payee_keys: list[str]) -> bool:
        async with self.runtime.db.read() as session:
            found = await session.scalar(
                select(store.PaidPayee.payee).where(
                    store.PaidPayee.customer_id == customer_id, store.PaidPayee.payee.in_(payee_keys)
                )
            )
        return found is not None

    async def approved(self, customer_id: str, key: str, payment: Payment) -> bool:
        """Whether an approved challenge covers exactly this payment under this key."""
        now = self.clock.now()
        async with self.runtime.db.write() as session, session.begin():
            row = await session.scalar(
                select(store.Challenge)
                .where(
                    store.Challenge.customer_id == customer_id,
                    store.Challenge.idempotency_key == key,
                    store.Challenge.status == "approved",
                    store.Challenge.operation == payment.operation,
                    store.Challenge.payee == payment.payee,
                    store.Challenge.amount_minor == payment.amount_minor,
                    store.Challenge.currency == payment.currency,
                )
                .order_by(store.Challenge.approved_at.desc())
                .limit(1)
            )
            if row is None or row.approved_at is None or row.approved_at + self.ttl <= now:
                return False
            row.used_at = row.used_at or now
        return True

    async def challenge(self, customer_id: str, key: str, payment: Payment, reason: str) -> store.Challenge:
        """The pending challenge for this payment and key, or a new one with its code sent."""
        now = self.clock.now()
        async with self.runtime.unit_of_work() as uow:
            pending = await uow.session.scalar(
                select(store.Challenge).where(
                    store.Challenge.customer_id == customer_id,
                    store.Challenge.idempotency_key == key,
                    store.Challenge.status == "pending",
                    store.Challenge.operation == payment.operation,
                    store.Challenge.payee == payment.payee,
                    store.Challenge.amount_minor == payment.amount_minor,
                    store.Challenge.currency == payment.currency,
                    store.Challenge.expires_at > now,
                )
            )
            if pending is not None:
                return pending
            recent = await uow.session.scalar(
                select(func.count())
                .select_from(store.Challenge)
                .where(
                    store.Challenge.customer_id == customer_id, store.Challenge.created_at > now - timedelta(hours=1)
                )
            )
            if (recent or 0) >= MAX_CHALLENGES_PER_HOUR:
                raise Problem(
                    429,
                    "too-many-challenges",
                    f"no more than {MAX_CHALLENGES_PER_HOUR} one-time codes an hour; try again later",
                    headers={"Retry-After": "600"},
                )
            challenge_id, code = str(uuid.uuid4()), new_code()
            row = store.Challenge(
                id=challenge_id,
                customer_id=customer_id,
                operation=payment.operation,
                payee=payment.payee,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                idempotency_key=key,
                reason=reason,
                code_hash=code_hash(self.settings.jwt_secret, challenge_id, code),
                status="pending",
                attempts=0,
                created_at=now,
                expires_at=now + self.ttl,
            )
            uow.session.add(row)
            amount = f"{format_minor(payment.amount_minor, payment.currency)} {payment.currency}"
            draft = notify.stepup_code(
                customer_id, challenge_id, code, payment.operation, amount, self.settings.stepup_ttl_s
            )
            await notifications.add(uow, self.hub, [draft], event_id=None, event_at=now, now=now)
        return row

    async def verify(self, customer_id: str, challenge_id: str, code: str) -> tuple[Verdict, store.Challenge]:
        now = self.clock.now()
        async with self.runtime.db.write() as session, session.begin():
            # FOR UPDATE on PostgreSQL: two wrong codes at once both count.
            row = await session.get(store.Challenge, challenge_id, with_for_update=True)
            if row is None or row.customer_id != customer_id:
                raise not_found("challenge", challenge_id)
            code_ok = hmac.compare_digest(row.code_hash, code_hash(self.settings.jwt_secret, challenge_id, code))
            verdict, state = attempt(
                ChallengeState(row.status, row.attempts, row.expires_at),
                code_ok=code_ok,
                now=now,
                max_attempts=self.settings.stepup_max_attempts,
            )
            if state.status == "approved" and row.status != "approved":
                row.approved_at = now
            row.status, row.attempts = state.status, state.attempts
        return verdict, row

    async def get(self, customer_id: str, challenge_id: str) -> store.Challenge:
        async with self.runtime.db.read() as session:
            row = await session.get(store.Challenge, challenge_id)
        if row is None or row.customer_id != customer_id:
            raise not_found("challenge", challenge_id)
        return row


async def require(request: Request, principal: Principal, payment: Payment) -> None:
    """Let the request through, or raise 401 step-up-required with a challenge.

    A request whose key already has an answer is let through: the replay needs no code."""
    challenges: Challenges = request.app.state.challenges
    policy = challenges.policy
    is_transfer = payment.operation == "transfer"
    known = False
    if policy.asks_about_payee(amount_minor=payment.amount_minor, is_transfer=is_transfer):
        known = await _paid_before(request, principal, payment.payee) or await _own_account(
            request, principal, payment.payee
        )
    reason = policy.reason(amount_minor=payment.amount_minor, is_transfer=is_transfer, payee_known=known)
    if reason is None:
        return
    key = read_key(request, required=True)
    assert key is not None
    idempotency: Idempotency = request.app.state.idempotency
    if await idempotency.lookup(principal.subject, key, fingerprint(request, await request.body())) is not None:
        return
    if await challenges.approved(principal.subject, key, payment):
        return
    challenge = await challenges.challenge(principal.subject, key, payment, reason)
    limit = policy.amount_minor if reason == "amount" else policy.new_payee_minor
    why = "a first payment to this payee" if reason == "new_payee" else "a payment"
    raise Problem(
        401,
        "step-up-required",
        f"{why} above {format_minor(limit)} CNY needs a one-time code: it was sent to your notifications; "
        f"approve challenge {challenge.id} with POST /v1/auth/challenges/{challenge.id}, then repeat this "
        "request with the same Idempotency-Key",
        title="Step-up authentication required",
        headers={"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'},
        challenge_id=challenge.id,
        reason=reason,
        expires_at=challenge.expires_at.isoformat(),
        links={"approve": f"/v1/auth/challenges/{challenge.id}", "notifications": "/v1/notifications"},
    )


async def _paid_before(request: Request, principal: Principal, payee: str) -> bool:
    """Whether a transfer to this payee completed before (PaymentCompleted names the payee's
    account and customer; a payee given by phone is found by the phone's customer id)."""
    challenges: Challenges = request.app.state.challenges
    kind, _, ident = payee.partition(":")
    if kind == "phone":
        customer_id = await request.app.state.sessions.customer_id_for_phone(ident)
        if customer_id is None:
            return False
        if customer_id == principal.subject:
            return True  # one's own accounts
        return await challenges.payee_paid_before(principal.subject, [f"customer:{customer_id}"])
    return await challenges.payee_paid_before(principal.subject, [payee])


async def _own_account(request: Request, principal: Principal, payee: str) -> bool:
    """A move between one's own accounts is never to a new payee."""
    kind, _, account_id = payee.partition(":")
    if kind != "account":
        return False
    answer = await request.app.state.upstreams.call("accounts", "GET", "/v1/accounts", token=principal.token)
    if answer.status_code != 200:
        return False
    return any(a.get("id") == account_id for a in answer.json().get("items", []))


# --- the endpoint ----------------------------------------------------------------------------


class ChallengeApproval(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "493027"}]})
    code: str = Field(pattern=r"^\d{6}$", description="The six-digit code from the notification")


class ChallengePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6f3f0e-8d0c-4a59-9a57-3c1e4f0f1c11",
                    "status": "approved",
                    "operation": "transfer",
                    "amount": "6000.00",
                    "amount_minor": 600000,
                    "currency": "CNY",
                    "reason": "amount",
                    "attempts_left": 5,
                    "expires_at": "2026-11-25T14:05:00Z",
                    "approved_at": "2026-11-25T14:01:12Z",
                }
            ]
        }
    )
    id: str
    status: str = Field(description="pending, approved or locked")
    operation: str
    amount: str
    amount_minor: int
    currency: str
    reason: str = Field(description="amount (above the step-up amount) or new_payee")
    attempts_left: int
    expires_at: datetime
    approved_at: datetime | None = None


def challenge_public(row: store.Challenge, max_attempts: int) -> ChallengePublic:
    return ChallengePublic(
        id=row.id,
        status=row.status,
        operation=row.operation,
        amount=format_minor(row.amount_minor, row.currency),
        amount_minor=row.amount_minor,
        currency=row.currency,
        reason=row.reason,
        attempts_left=max(0, max_attempts - row.attempts),
        expires_at=row.expires_at,
        approved_at=row.approved_at,
    )


router = APIRouter(prefix="/v1/auth", tags=["auth"], responses={401: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM})
ChallengeId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]


def _problem_example(status: int, slug: str, detail: str, **extra: object) -> dict[str, object]:
    return {
        "content": {
            "application/problem+json": {
                "example": {"type": f"https://sandbank.dev/problems/{slug}", "status": status, "detail": detail} | extra
            }
        },
        "description": detail,
    }


@router.post(
    "/challenges/{challenge_id}",
    response_model=ChallengePublic,
    responses={
        401: _problem_example(401, "challenge-code-invalid", "the code is not right; 4 attempts left", attempts_left=4),
        409: _problem_example(409, "challenge-expired", "the code has expired: repeat the payment for a new code"),
    },
)
async def approve_challenge(
    challenge_id: ChallengeId,
    body: Annotated[ChallengeApproval, Body()],
    request: Request,
    principal: Customer,
) -> ChallengePublic:
    """Approve a step-up challenge with the six-digit code from your notifications, then
    repeat the payment with the same Idempotency-Key. A wrong code answers 401 with
    `attempts_left`; five wrong codes lock the challenge (409 `challenge-locked`), and
    after five minutes it has expired (409 `challenge-expired`): repeat the payment for
    a new one. Another customer's challenge is a 404."""
    challenges: Challenges = request.app.state.challenges
    max_attempts = challenges.settings.stepup_max_attempts
    verdict, row = await challenges.verify(principal.subject, challenge_id, body.code)
    left = max(0, max_attempts - row.attempts)
    if verdict == Verdict.APPROVED:
        return challenge_public(row, max_attempts)
    if verdict == Verdict.WRONG_CODE:
        detail = (
            f"the code is not right; {left} attempt{'s' if left != 1 else ''} left"
            if left
            else "the code is not right and the challenge is now locked; repeat the payment for a new code"
        )
        raise Problem(401, "challenge-code-invalid", detail, attempts_left=left, challenge_id=row.id)
    if verdict == Verdict.LOCKED:
        raise Problem(409, "challenge-locked", "too many wrong codes: repeat the payment for a new code")
    if verdict == Verdict.EXPIRED:
        raise Problem(409, "challenge-expired", "the code has expired: repeat the payment for a new code")
    raise Problem(409, "challenge-already-approved", "this challenge was already approved with another code")


@router.get("/challenges/{challenge_id}", response_model=ChallengePublic)
async def get_challenge(challenge_id: ChallengeId, request: Request, principal: Customer) -> ChallengePublic:
    """A step-up challenge's state: pending, approved or locked, and the tries left."""
    challenges: Challenges = request.app.state.challenges
    row = await challenges.get(principal.subject, challenge_id)
    return challenge_public(row, challenges.settings.stepup_max_attempts)
