"""Step-up rules: when a payment needs a one-time code, what a try of a code does, and how
the gateway answers payments' word that a payment needs one: a challenge for exactly the
payment payments asked about, or that payment's approval, and never a kept answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from fastapi.responses import Response

from gateway.identity.stepup import ChallengeState, StepUp, StepUpRequired, Verdict, attempt, code_hash, new_code
from gateway.routing.idempotency import Idempotency, forward_idempotently
from shared import stepup
from shared.auth import ROLE_CUSTOMER, Principal
from shared.settings import AuthSettings
from shared.stepup import Payment, Required, StepUpMissing, StepUpPolicy
from tests.tokens import issuer

POLICY = StepUpPolicy(amount_minor=5_000_00, new_payee_minor=1_000_00)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("amount", "transfer", "known", "reason"),
    [
        (5_000_00, True, True, None),  # at the amount: no code
        (5_000_01, True, True, "amount"),
        (5_000_01, False, False, "amount"),
        (1_000_00, True, False, None),  # at the new-payee amount: no code
        (1_000_01, True, False, "new_payee"),
        (1_000_01, True, True, None),
        (4_999_99, False, False, None),  # bills, QR, top-ups have no new-payee rule
        (1, True, False, None),
    ],
)
def test_when_a_payment_needs_a_code(amount: int, transfer: bool, known: bool, reason: str | None) -> None:
    assert POLICY.reason(amount_minor=amount, is_transfer=transfer, payee_known=known) == reason


@pytest.mark.parametrize(
    ("amount", "transfer", "asks"),
    [
        (1_000_00, True, False),
        (1_000_01, True, True),
        (5_000_00, True, True),
        (5_000_01, True, False),
        (2_000_00, False, False),
    ],
)
def test_the_payee_is_looked_up_only_where_it_decides(amount: int, transfer: bool, asks: bool) -> None:
    assert POLICY.asks_about_payee(amount_minor=amount, is_transfer=transfer) is asks


def pending(attempts: int = 0) -> ChallengeState:
    return ChallengeState("pending", attempts, LATER)


@pytest.mark.parametrize(
    ("state", "code_ok", "now", "verdict", "status", "attempts"),
    [
        (pending(), True, NOW, Verdict.APPROVED, "approved", 0),
        (pending(), False, NOW, Verdict.WRONG_CODE, "pending", 1),
        (pending(3), False, NOW, Verdict.WRONG_CODE, "pending", 4),
        (pending(4), False, NOW, Verdict.WRONG_CODE, "locked", 5),  # the fifth wrong code locks
        (ChallengeState("locked", 5, LATER), True, NOW, Verdict.LOCKED, "locked", 5),
        (pending(), True, LATER, Verdict.EXPIRED, "pending", 0),  # expiry first: the code is not even tried
        (pending(2), False, LATER, Verdict.EXPIRED, "pending", 2),
        (ChallengeState("approved", 1, LATER), True, NOW, Verdict.APPROVED, "approved", 1),
        (ChallengeState("approved", 1, LATER), False, NOW, Verdict.ALREADY_APPROVED_OTHER_CODE, "approved", 1),
    ],
)
def test_a_try_of_a_code(
    state: ChallengeState, code_ok: bool, now: datetime, verdict: Verdict, status: str, attempts: int
) -> None:
    got, after = attempt(state, code_ok=code_ok, now=now, max_attempts=5)
    assert (got, after.status, after.attempts) == (verdict, status, attempts)


def test_codes_are_six_digits_and_vary() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190


def test_the_stored_hash_binds_the_code_to_its_challenge_and_the_secret() -> None:
    h = code_hash(b"secret", "challenge-1", "123456")
    assert len(h) == 64 and "123456" not in h
    assert h == code_hash(b"secret", "challenge-1", "123456")
    assert h != code_hash(b"secret", "challenge-2", "123456")
    assert h != code_hash(b"other-secret", "challenge-1", "123456")
    assert h != code_hash(b"secret", "challenge-1", "123457")


# --- payments decides; the gateway answers its 403 with a challenge or the approval ------------

CUSTOMER = Principal(subject="c-1", roles=frozenset({ROLE_CUSTOMER}))
ASKED = Payment("transfer", "account:a-2", 6_000_00, "CNY", "a-1")
REQUIRED = Required(ASKED, "amount", 5_000_00)


class FakeChallenges:
    """Challenges in memory: approved ones by (customer, key, payment), new ones listed."""

    def __init__(self, approved: set[tuple[str, str, Payment]] = frozenset()) -> None:  # type: ignore[assignment]
        self.approved_ = set(approved)
        self.made: list[tuple[str, str, Payment, str]] = []
        self.settings = AuthSettings()

    async def approved(self, customer_id: str, key: str, payment: Payment) -> bool:
        return (customer_id, key, payment) in self.approved_

    async def challenge(self, customer_id: str, key: str, payment: Payment, reason: str) -> Any:
        self.made.append((customer_id, key, payment, reason))
        return SimpleNamespace(id="ch-1", reason=reason, expires_at=NOW + timedelta(minutes=5), customer_id=customer_id)


class Payments:
    """payments' answers in turn, and the extra headers each request came with."""

    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, str]] = []

    async def __call__(self, extra: dict[str, str]) -> Response:
        self.sent.append(extra)
        return self.answers.pop(0)


def asks(required: Required = REQUIRED) -> Response:
    """payments' 403: this payment is valid and needs the customer's code."""
    body = StepUpMissing(required, "needs a code").body()
    return Response(orjson.dumps(body), status_code=403, media_type="application/problem+json")


def answer(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def step_up(challenges: FakeChallenges) -> StepUp:
    return StepUp(challenges, issuer("gateway"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "refused",
    [
        answer(422, {"type": "https://sandbank.dev/problems/unknown-payee", "status": 422}),
        answer(422, {"type": "https://sandbank.dev/problems/limit-exceeded", "status": 422}),
        answer(403, {"type": "https://sandbank.dev/problems/forbidden", "status": 403}),
        answer(202, {"id": "p-1", "status": "pending"}),
    ],
    ids=["unknown payee", "over the KYC limit", "another 403", "accepted"],
)
async def test_an_answer_that_asks_for_no_code_is_passed_on_and_makes_no_challenge(refused: Response) -> None:
    challenges, payments = FakeChallenges(), Payments(refused)
    assert await step_up(challenges).forward(CUSTOMER, "key-1", payments) is refused
    assert (challenges.made, payments.sent) == ([], [{}])


async def test_a_payment_payments_asks_a_code_for_gets_a_challenge_for_exactly_its_facts() -> None:
    challenges, payments = FakeChallenges(), Payments(asks())
    with pytest.raises(StepUpRequired) as raised:
        await step_up(challenges).forward(CUSTOMER, "key-1", payments)
    assert challenges.made == [("c-1", "key-1", ASKED, "amount")]
    assert raised.value.facts["challenge_id"] == "ch-1" and "5000.00" in str(raised.value)
    assert payments.sent == [{}]


async def test_an_approved_payment_is_sent_again_with_the_approval_of_exactly_it() -> None:
    accepted = answer(202, {"id": "p-1"})
    challenges, payments = FakeChallenges({("c-1", "key-1", ASKED)}), Payments(asks(), accepted)
    assert await step_up(challenges).forward(CUSTOMER, "key-1", payments) is accepted
    assert challenges.made == []
    token = payments.sent[1][stepup.HEADER]
    stepup.check_approval(issuer("payments"), token, "c-1", REQUIRED, "key-1")  # covers it
    with pytest.raises(StepUpMissing):
        stepup.check_approval(issuer("payments"), token, "c-1", REQUIRED, "key-2")


@pytest.mark.parametrize(
    "other",
    [
        Payment("transfer", "account:a-3", 6_000_00, "CNY", "a-1"),
        Payment("transfer", "account:a-2", 6_000_00, "CNY", "a-9"),
    ],
    ids=["another payee", "another paying account"],
)
async def test_an_approval_for_another_payment_does_not_count(other: Payment) -> None:
    challenges, payments = FakeChallenges({("c-1", "key-1", other)}), Payments(asks())
    with pytest.raises(StepUpRequired):
        await step_up(challenges).forward(CUSTOMER, "key-1", payments)
    assert challenges.made == [("c-1", "key-1", ASKED, "amount")] and payments.sent == [{}]


async def test_payments_asking_again_after_the_approval_gets_a_new_challenge() -> None:
    """The payee a phone number pays into changed between the two: the new payee needs its own code."""
    moved = Required(Payment("transfer", "account:a-9", 6_000_00, "CNY", "a-1"), "amount", 5_000_00)
    challenges, payments = FakeChallenges({("c-1", "key-1", ASKED)}), Payments(asks(), asks(moved))
    with pytest.raises(StepUpRequired):
        await step_up(challenges).forward(CUSTOMER, "key-1", payments)
    assert challenges.made == [("c-1", "key-1", moved.payment, "amount")] and len(payments.sent) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"type": "https://sandbank.dev/problems/step-up-required"}),  # without its facts
        (403, {"type": "https://sandbank.dev/problems/forbidden", **REQUIRED.facts()}),
        (401, {"type": "https://sandbank.dev/problems/step-up-required", **REQUIRED.facts()}),
        (403, ["not", "a", "problem"]),
    ],
)
def test_only_payments_step_up_problem_with_its_facts_asks_for_a_code(status: int, body: Any) -> None:
    assert Required.from_problem(status, body) is None


def test_the_step_up_problem_carries_what_an_approval_binds() -> None:
    assert Required.from_problem(403, StepUpMissing(REQUIRED, "x").body()) == REQUIRED


# --- the idempotent answer: replayed without a code, never the challenge ----------------------------


class Memory(Idempotency):
    """Idempotency answers kept in memory only."""

    def __init__(self) -> None:
        self.in_flight = {}
        self.kept: dict[tuple[str, str], Response] = {}

    async def lookup(self, owner_id: str, key: str, fp: str) -> Response | None:
        return self.kept.get((owner_id, key))

    def remember(self, owner_id: str, key: str, fp: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.kept[(owner_id, key)] = Response(body, status_code=status)


async def test_a_challenge_is_not_kept_as_the_keys_answer_and_the_approved_repeat_is() -> None:
    idempotency, challenges = Memory(), FakeChallenges()
    first = Payments(asks())
    with pytest.raises(StepUpRequired):
        await forward_idempotently(
            idempotency, partial(step_up(challenges).forward, CUSTOMER, "key-1", first), "c-1", key="key-1", fp="f"
        )
    assert idempotency.kept == {} and idempotency.in_flight == {}

    challenges.approved_.add(("c-1", "key-1", ASKED))
    repeat = Payments(asks(), answer(202, {"id": "p-1"}))
    answered = await forward_idempotently(
        idempotency, partial(step_up(challenges).forward, CUSTOMER, "key-1", repeat), "c-1", key="key-1", fp="f"
    )
    assert answered.status_code == 202 and idempotency.kept[("c-1", "key-1")].status_code == 202

    replay = Payments()  # a replay reaches neither payments nor the challenges
    again = await forward_idempotently(
        idempotency, partial(step_up(challenges).forward, CUSTOMER, "key-1", replay), "c-1", key="key-1", fp="f"
    )
    assert again.status_code == 202 and replay.sent == [] and challenges.made == [("c-1", "key-1", ASKED, "amount")]


async def test_a_refusal_is_not_kept_and_the_corrected_request_goes_through_under_the_same_key() -> None:
    """A 4xx made nothing: the app corrects the request and sends it under the same key."""
    idempotency = Memory()

    async def refused() -> Response:
        return Response(b'{"type": "validation-error"}', status_code=422)

    async def made() -> Response:
        return Response(b'{"id": "p-1"}', status_code=202)

    first = await forward_idempotently(idempotency, refused, "c-1", key="key-1", fp="amount 0")
    corrected = await forward_idempotently(idempotency, made, "c-1", key="key-1", fp="amount 1")

    assert (first.status_code, corrected.status_code) == (422, 202)
    assert idempotency.kept[("c-1", "key-1")].status_code == 202 and idempotency.in_flight == {}
