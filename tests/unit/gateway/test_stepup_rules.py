"""Step-up rules: when a payment needs a one-time code, what a try of a code does, and the
payment (with its payee key) a challenge approves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from gateway.identity.stepup import (
    ChallengeState,
    Payment,
    StepUp,
    StepUpPolicy,
    Verdict,
    attempt,
    bill_payment,
    code_hash,
    new_code,
    qr_payment,
    topup_payment,
    transfer_payment,
)
from shared.accounts_client import AccountsClient
from shared.schemas.payments import BillCreate, QrCreate, TopupCreate, TransferCreate

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


# --- what a challenge approves: the payment read from the body, its payee as payments keys it ----

PAYER = "5a0e1d3c-0000-4000-8000-000000000101"


@pytest.mark.parametrize(
    ("read", "body", "payment"),
    [
        (
            transfer_payment,
            TransferCreate.model_validate({"payer_account_id": PAYER, "payee_account_id": "a-2", "amount": "1200.00"}),
            Payment("transfer", "account:a-2", 1200_00, "CNY"),
        ),
        (
            transfer_payment,
            TransferCreate.model_validate(
                {"payer_account_id": PAYER, "payee_phone": "138 0000 0002", "amount": "88.00"}
            ),
            Payment("transfer", "phone:+8613800000002", 88_00, "CNY"),
        ),
        (
            bill_payment,
            BillCreate.model_validate(
                {
                    "payer_account_id": PAYER,
                    "biller_code": "SH-WATER",
                    "bill_reference": "3100012345",
                    "amount": "56.40",
                }
            ),
            Payment("bill", "biller:SH-WATER:3100012345", 56_40, "CNY"),
        ),
        (
            qr_payment,
            QrCreate.model_validate(
                {"payer_account_id": PAYER, "qr_payload": "sandbank://qr/v1?m=M100001&a=32.00&r=T42"}
            ),
            Payment("qr", "merchant:M100001", 32_00, "CNY"),
        ),
        (
            qr_payment,
            QrCreate.model_validate(
                {"payer_account_id": PAYER, "qr_payload": "sandbank://qr/v1?m=M100004", "amount": "18.50"}
            ),
            Payment("qr", "merchant:M100004", 18_50, "CNY"),
        ),
        (
            topup_payment,
            TopupCreate.model_validate({"payer_account_id": PAYER, "phone": "13912345678", "amount": "50.00"}),
            Payment("topup", "mobile:+8613912345678", 50_00, "CNY"),
        ),
    ],
    ids=["transfer to an account", "transfer to a phone", "bill", "qr with amount", "qr without amount", "top-up"],
)
def test_a_payment_is_read_with_its_payee_key(read: Any, body: Any, payment: Payment) -> None:
    assert read(body) == payment


@pytest.mark.parametrize(
    ("read", "body"),
    [
        (
            qr_payment,
            QrCreate.model_validate(
                {"payer_account_id": PAYER, "qr_payload": "https://example.com/?m=M100001&a=9000.00"}
            ),
        ),
        (qr_payment, QrCreate.model_validate({"payer_account_id": PAYER, "qr_payload": "sandbank://qr/v1?m=M100001"})),
        (topup_payment, TopupCreate.model_validate({"payer_account_id": PAYER, "phone": "12345", "amount": "50.00"})),
        (
            transfer_payment,
            TransferCreate.model_validate({"payer_account_id": PAYER, "payee_account_id": "a-2", "amount": "0.00"}),
        ),
    ],
    ids=["not a Sandbank QR code", "QR code without an amount, none sent", "not a mobile number", "zero amount"],
)
def test_a_request_payments_will_refuse_asks_for_no_code(read: Any, body: Any) -> None:
    assert read(body) is None


def directory(found: dict[str, str | None], asked: list[str]) -> AccountsClient:
    """accounts' phone directory, as the gateway asks it."""

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        phone = unquote(request.url.path.rsplit("/", 1)[-1])
        if phone not in found:
            return httpx.Response(404, json={})
        entry = {"customer_id": "c-2", "kyc_class": "II", "holder": "W*", "default_account_id": found[phone]}
        return httpx.Response(200, json=entry)

    return AccountsClient("http://accounts", lambda: "service-token", transport=httpx.MockTransport(answer))


async def never_paid(customer_id: str, payee: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("payee", "found", "key"),
    [
        ("phone:+8613800000002", {"+8613800000002": "a-2"}, "account:a-2"),
        ("phone:+8613800000002", {}, "phone:+8613800000002"),
        ("phone:+8613800000002", {"+8613800000002": None}, "phone:+8613800000002"),
        ("account:a-3", {}, "account:a-3"),
    ],
    ids=["a customer's phone", "nobody's phone", "a customer without a checking account", "an account"],
)
async def test_a_phone_payee_is_keyed_by_the_account_it_pays_into(
    payee: str, found: dict[str, str | None], key: str
) -> None:
    asked: list[str] = []
    accounts = directory(found, asked)
    stepup = StepUp(None, None, accounts, never_paid)  # type: ignore[arg-type]
    try:
        assert await stepup.resolve_payee(payee) == key
    finally:
        await accounts.close()
    assert asked == ([] if payee.startswith("account:") else ["/internal/customers/by-phone/%2B8613800000002"])
