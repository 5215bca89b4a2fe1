"""Step-up authentication (strong customer authentication) for money-moving requests.

Payments decides whether a payment needs a one-time code (shared/stepup.py), after it
validated the request, resolved payer and payee and checked the limits: above
`AUTH_STEPUP_AMOUNT_MINOR`, or a transfer above the lower `AUTH_STEPUP_NEW_PAYEE_MINOR`
to a payee the customer has never paid. It answers such a payment, when no approval of
exactly it came along, 403 `step-up-required` with the facts to approve (operation,
payee key, amount, currency, paying account, reason) and writes nothing. `StepUp.answer` turns that into
the phone's 401 `step-up-required` with a challenge for exactly those facts: a six-digit
code sent by text message to the customer's phone (gateway/sandbox/inbox.py: in sandbox
mode the inbox, otherwise nowhere the API can read; a notification only says a code was
sent). A stolen access token reads the notifications, so the code must not be there.
`POST /v1/auth/challenges/{id}` with the code approves it, and the same request repeated
with the same Idempotency-Key is forwarded with the gateway's signed approval and goes
through. The approval is bound to the customer, the operation, the payee, the amount, the
paying account and the key, so it cannot approve anything else; the code expires after `AUTH_STEPUP_TTL_S`
and five wrong tries lock it. Only an HMAC of the code is stored.

So the gateway reads nothing of the body for step-up and needs no payee look-up of its
own: the payee a challenge names is the one payments resolved and will pay, and a
request payments refuses (an unknown payee, over the KYC limit) is answered with its 422
at once, without spending one of the customer's codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import orjson
from fastapi.responses import Response
from sqlalchemy import ColumnElement, func, select

from gateway.errors import Refused
from gateway.identity import store
from gateway.notifications import notify
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from gateway.sandbox.inbox import STEP_UP_CODE, Inbox
from shared import stepup
from shared.auth import Principal, TokenIssuer
from shared.clock import Clock
from shared.money import format_minor
from shared.runtime import Runtime
from shared.settings import AuthSettings
from shared.stepup import Payment, Required

# A customer may be sent this many codes an hour: with five tries each, guessing one
# stays hopeless even for a client that keeps asking for new challenges.
MAX_CHALLENGES_PER_HOUR = 10


# --- the rules (pure) ----------------------------------------------------------------------


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


def code_hash(secret: bytes, challenge_id: str, code: str) -> str:
    return hmac.new(secret, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


# --- errors ----------------------------------------------------------------------------------


class StepUpRequired(Refused):
    code = "step-up-required"
    title = "Step-up authentication required"

    def __init__(self, challenge: store.Challenge, limit_minor: int) -> None:
        why = "a first payment to this payee" if challenge.reason == "new_payee" else "a payment"
        super().__init__(
            f"{why} above {format_minor(limit_minor)} CNY needs a one-time code: it was sent to your phone by SMS; "
            f"approve challenge {challenge.id} with POST /v1/auth/challenges/{challenge.id}, then repeat this "
            "request with the same Idempotency-Key",
            challenge_id=challenge.id,
            reason=challenge.reason,
            expires_at=challenge.expires_at.isoformat(),
            links={"approve": f"/v1/auth/challenges/{challenge.id}"},
        )


class TooManyChallenges(Refused):
    code = "too-many-challenges"
    detail = f"no more than {MAX_CHALLENGES_PER_HOUR} one-time codes an hour; try again later"
    retry_after_s = 600


class ChallengeNotFound(Refused):
    code = "not-found"

    def __init__(self, challenge_id: str) -> None:
        super().__init__(f"challenge {challenge_id} was not found")


class CodeInvalid(Refused):
    code = "challenge-code-invalid"

    def __init__(self, challenge_id: str, attempts_left: int) -> None:
        super().__init__(
            f"the code is not right; {attempts_left} attempt{'s' if attempts_left != 1 else ''} left"
            if attempts_left
            else "the code is not right and the challenge is now locked; repeat the payment for a new code",
            attempts_left=attempts_left,
            challenge_id=challenge_id,
        )


class ChallengeLocked(Refused):
    code = "challenge-locked"
    detail = "too many wrong codes: repeat the payment for a new code"


class ChallengeExpired(Refused):
    code = "challenge-expired"
    detail = "the code has expired: repeat the payment for a new code"


class ChallengeAlreadyApproved(Refused):
    code = "challenge-already-approved"
    detail = "this challenge was already approved with another code"


# --- the challenges ----------------------------------------------------------------------------


def _covering(customer_id: str, key: str, payment: Payment, status: str) -> tuple[ColumnElement[bool], ...]:
    """The customer's challenges in `status` for exactly this payment under this key."""
    return (
        store.Challenge.customer_id == customer_id,
        store.Challenge.idempotency_key == key,
        store.Challenge.status == status,
        store.Challenge.operation == payment.operation,
        store.Challenge.payee == payment.payee,
        store.Challenge.amount_minor == payment.amount_minor,
        store.Challenge.currency == payment.currency,
        store.Challenge.payer == payment.payer,
    )


def step_up_text(code: str, operation: str, amount: str, ttl_s: int) -> str:
    """The text message that carries a step-up code."""
    if operation == "device_login":  # gateway/identity/devices.py: a login moves no money
        return (
            f"{code} is your Sandbank code to sign in on a new device. It expires in {ttl_s // 60} minutes. "
            "Never share it: Sandbank staff will never ask for it."
        )
    return (
        f"{code} is your Sandbank code to approve a {operation} of {amount}. It expires in {ttl_s // 60} minutes. "
        "Never share it: Sandbank staff will never ask for it."
    )


class Challenges:
    def __init__(
        self, runtime: Runtime, hub: NotificationHub, inbox: Inbox, settings: AuthSettings, clock: Clock
    ) -> None:
        self.runtime = runtime
        self.hub = hub
        self.inbox = inbox
        self.settings = settings
        self.clock = clock
        # The HMAC key of stored codes: the gateway's own, never in a file or the code.
        self.secret = runtime.keys.derive("one-time-codes")
        self.ttl = timedelta(seconds=settings.stepup_ttl_s)

    async def approved(self, customer_id: str, key: str, payment: Payment) -> bool:
        """Whether an approved challenge covers exactly this payment under this key."""
        now = self.clock.now()
        async with self.runtime.db.write() as session, session.begin():
            row = await session.scalar(
                select(store.Challenge)
                .where(*_covering(customer_id, key, payment, "approved"))
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
                    *_covering(customer_id, key, payment, "pending"), store.Challenge.expires_at > now
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
                raise TooManyChallenges()
            challenge_id, code = str(uuid.uuid4()), new_code()
            row = store.Challenge(
                id=challenge_id,
                customer_id=customer_id,
                operation=payment.operation,
                payee=payment.payee,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                payer=payment.payer,
                idempotency_key=key,
                reason=reason,
                code_hash=code_hash(self.secret, challenge_id, code),
                status="pending",
                attempts=0,
                created_at=now,
                expires_at=now + self.ttl,
            )
            uow.session.add(row)
            amount = f"{format_minor(payment.amount_minor, payment.currency)} {payment.currency}"
            ttl_s = self.settings.stepup_ttl_s
            phone = await uow.session.scalar(select(store.User.phone).where(store.User.id == customer_id))
            if phone is not None:
                text = step_up_text(code, payment.operation, amount, ttl_s)
                self.inbox.send(
                    uow.session, phone=phone, kind=STEP_UP_CODE, body=text, code=code, now=now, customer_id=customer_id
                )
            draft = notify.stepup_code_sent(
                customer_id, challenge_id, payment.operation, payment.amount_minor, payment.currency, ttl_s
            )
            writer = notifications.NotificationWriter(uow, self.hub, sandbox=self.inbox.sandbox)
            await writer.add([draft], event_id=None, event_at=now, now=now)
        return row

    async def verify(self, customer_id: str, challenge_id: str, code: str) -> tuple[Verdict, store.Challenge]:
        now = self.clock.now()
        async with self.runtime.db.write() as session, session.begin():
            # FOR UPDATE on PostgreSQL: two wrong codes at once both count.
            row = await session.get(store.Challenge, challenge_id, with_for_update=True)
            if row is None or row.customer_id != customer_id:
                raise ChallengeNotFound(challenge_id)
            code_ok = hmac.compare_digest(row.code_hash, code_hash(self.secret, challenge_id, code))
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
            raise ChallengeNotFound(challenge_id)
        return row

    async def approve(self, customer_id: str, challenge_id: str, code: str) -> store.Challenge:
        """The approved challenge, or the error that says why the code did not approve it."""
        verdict, row = await self.verify(customer_id, challenge_id, code)
        if verdict == Verdict.APPROVED:
            return row
        if verdict == Verdict.WRONG_CODE:
            raise CodeInvalid(row.id, max(0, self.settings.stepup_max_attempts - row.attempts))
        if verdict == Verdict.LOCKED:
            raise ChallengeLocked()
        if verdict == Verdict.EXPIRED:
            raise ChallengeExpired()
        raise ChallengeAlreadyApproved()


# Forward the request to payments, with these extra headers, and give back its answer.
Send = Callable[[dict[str, str]], Awaitable[Response]]


class StepUp:
    """Turns payments' 403 `step-up-required` into the request's approval or a challenge."""

    def __init__(self, challenges: Challenges, tokens: TokenIssuer) -> None:
        self.challenges = challenges
        self.tokens = tokens

    async def forward(self, principal: Principal, key: str, send: Send) -> Response:
        """Payments' answer to the request; when payments asks for a code, the answer to the
        request sent again with the approval of an approved challenge covering exactly what
        payments asked about. Raises `StepUpRequired` (with the pending or a new challenge)
        when there is none: payments' 403 never reaches the phone."""
        response = await send({})
        required = _required(response)
        if required is not None and await self.challenges.approved(principal.subject, key, required.payment):
            response = await send({stepup.HEADER: self.approval(principal, key, required.payment)})
            required = _required(response)  # asked again: what payments would pay has changed
        if required is None:
            return response
        challenge = await self.challenges.challenge(principal.subject, key, required.payment, required.reason)
        raise StepUpRequired(challenge, required.limit_minor)

    def approval(self, principal: Principal, key: str, payment: Payment) -> str:
        """The gateway's signed word to payments that the customer approved this payment."""
        approved = stepup.Approved(
            payment.operation, payment.payee, payment.amount_minor, payment.currency, payment.payer, key
        )
        return stepup.approval(self.tokens, principal.subject, approved, self.challenges.settings.stepup_ttl_s)


def _required(response: Response) -> Required | None:
    if response.status_code != 403:
        return None
    try:
        body = orjson.loads(bytes(response.body))
    except orjson.JSONDecodeError:
        return None
    return Required.from_problem(response.status_code, body)
