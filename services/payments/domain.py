"""Payments rules as plain code: payment kinds, the saga's stages, risk rules, billers,
merchants and the QR payload format. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from shared.money import InvalidAmount, format_minor, to_minor


class Kind(StrEnum):
    TRANSFER = "transfer"
    BILL = "bill"
    QR = "qr"
    TOPUP = "topup"


class Stage(StrEnum):
    """Where a payment's saga stands. The last two are terminal."""

    RESERVING = "reserving_funds"  # ReserveFunds sent, waiting for accounts
    CAPTURING = "capturing"  # risk approved, CaptureHold sent
    RELEASING = "releasing"  # failing: ReleaseHold sent, waiting for the release
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL = frozenset({Stage.COMPLETED, Stage.FAILED})


def public_status(stage: Stage) -> str:
    return stage.value if stage in TERMINAL else "pending"


class Reason(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CLASS_LIMIT_EXCEEDED = "class_limit_exceeded"
    RISK_REJECTED = "risk_rejected"
    PAYEE_UNAVAILABLE = "payee_unavailable"
    TIMED_OUT = "timed_out"
    PAYER_UNAVAILABLE = "payer_unavailable"


# accounts' rejection reasons, as the customer reads them.
ACCOUNTS_REASONS = {
    "insufficient_funds": Reason.INSUFFICIENT_FUNDS,
    "limit_exceeded": Reason.CLASS_LIMIT_EXCEEDED,
    "balance_cap_exceeded": Reason.PAYEE_UNAVAILABLE,
    "account_not_found": Reason.PAYEE_UNAVAILABLE,
    "currency_mismatch": Reason.PAYEE_UNAVAILABLE,
}


class PaymentRejected(Exception):
    """A request refused before anything is written (becomes a 4xx problem)."""

    def __init__(self, slug: str, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.status = status


# --- billers and merchants -------------------------------------------------------------


@dataclass(frozen=True)
class Biller:
    code: str
    name: str
    category: str
    reference_pattern: str
    reference_hint: str
    settlement_account_id: str = "internal:biller-settlement"

    def check_reference(self, reference: str) -> None:
        # ASCII: `\d` alone would take full-width and other Unicode digits no biller issues.
        if not re.fullmatch(self.reference_pattern, reference, re.ASCII):
            raise PaymentRejected(
                "invalid-bill-reference", f"{self.name} bill references look like {self.reference_hint}"
            )


SANDBOX_FAIL_BILLER = "SANDBOX-FAIL"

BILLERS = {
    b.code: b
    for b in (
        Biller("SH-WATER", "Shanghai Water", "water", r"\d{10}", "10 digits"),
        Biller("SG-ELEC", "State Grid Electricity", "electricity", r"\d{10,13}", "10 to 13 digits"),
        Biller("TG-GAS", "Towngas", "gas", r"[A-Z]{2}\d{8}", "two letters and 8 digits"),
        Biller("CM-PHONE", "China Mobile bill", "phone", r"1[3-9]\d{9}", "an 11-digit mobile number"),
        # Fails after the hold is taken, so the compensation (the release) can be watched.
        Biller(SANDBOX_FAIL_BILLER, "Sandbox failing biller", "water", r".{1,40}", "anything"),
    )
}


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    city: str
    settlement_account_id: str = "internal:merchant-settlement"


MERCHANTS = {
    m.id: m
    for m in (
        Merchant("M100001", "Lanzhou Noodle House", "Shanghai"),
        Merchant("M100002", "Sunrise Convenience Store", "Beijing"),
        Merchant("M100003", "Xi'an Dumpling Bar", "Xi'an"),
        Merchant("M100004", "Pearl River Coffee", "Guangzhou"),
    )
}

TOPUP_SETTLEMENT = "internal:topup-settlement"
TOPUP_MAX_MINOR = 500_00  # carrier billing: micro and small amounts only


@dataclass(frozen=True)
class QrPayload:
    merchant_id: str
    amount_minor: int | None
    reference: str


def parse_qr(payload: str) -> QrPayload:
    """`sandbank://qr/v1?m=<merchant id>&a=<amount, optional>&r=<merchant reference, optional>`."""
    try:
        parts = urlsplit(payload.strip())
    except ValueError:
        raise PaymentRejected("malformed-qr", "the QR payload is not a Sandbank QR code") from None
    if parts.scheme != "sandbank" or parts.netloc != "qr" or parts.path != "/v1":
        raise PaymentRejected("malformed-qr", "the QR payload is not a Sandbank QR code (sandbank://qr/v1?m=...)")
    query = parse_qs(parts.query, keep_blank_values=False)
    merchant = (query.get("m") or [""])[0]
    if not merchant:
        raise PaymentRejected("malformed-qr", "the QR payload names no merchant (m=)")
    amount: int | None = None
    if "a" in query:
        try:
            amount = to_minor(query["a"][0])
        except InvalidAmount as exc:
            raise PaymentRejected("malformed-qr", f"the QR payload's amount is invalid: {exc}") from None
    return QrPayload(merchant, amount, (query.get("r") or [""])[0][:64])


def qr_payload(merchant_id: str, amount: str | None = None, reference: str | None = None) -> str:
    query = f"m={merchant_id}" + (f"&a={amount}" if amount else "") + (f"&r={reference}" if reference else "")
    return f"sandbank://qr/v1?{query}"


# --- risk -----------------------------------------------------------------------------------

RISK_MAGIC_AMOUNT = 666_66  # a transfer of exactly 666.66 CNY is always rejected by risk


@dataclass(frozen=True)
class RiskPolicy:
    per_payment_minor: dict[str, int] = field(
        default_factory=lambda: {"I": 50_000_00, "II": 10_000_00, "III": 2_000_00}
    )
    velocity_max: int = 20
    velocity_window: timedelta = timedelta(seconds=60)
    new_payee_threshold_minor: int = 5_000_00


@dataclass(frozen=True)
class RiskContext:
    """What the risk rules see of a payment and the payer's recent history."""

    kind: Kind
    amount_minor: int
    payer_class: str | None
    recent_payments: int  # by this customer within the velocity window, this one excluded
    payee_known: bool  # the customer has completed a payment to this payee before


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    rule: str = ""
    detail: str = ""


def check_per_payment_limit(amount_minor: int, payer_class: str | None, policy: RiskPolicy) -> None:
    """At request time: a single payment beyond the class's per-payment limit is refused."""
    limit = policy.per_payment_minor.get(payer_class or "I")
    if limit is not None and amount_minor > limit:
        raise PaymentRejected(
            "limit-exceeded",
            f"a class {payer_class} account may pay at most {format_minor(limit)} CNY in one payment",
        )


def assess(ctx: RiskContext, policy: RiskPolicy) -> RiskDecision:
    """The risk decision taken once the funds are held."""
    if ctx.kind == Kind.TRANSFER and ctx.amount_minor == RISK_MAGIC_AMOUNT:
        return RiskDecision(False, "sandbox_magic_amount", "transfers of exactly 666.66 CNY are rejected (sandbox)")
    if ctx.recent_payments >= policy.velocity_max:
        return RiskDecision(
            False,
            "velocity",
            f"more than {policy.velocity_max} payments in {int(policy.velocity_window.total_seconds())} s",
        )
    if not ctx.payee_known and ctx.amount_minor > policy.new_payee_threshold_minor:
        return RiskDecision(
            False,
            "new_payee_threshold",
            f"a first payment to a new payee may not exceed {format_minor(policy.new_payee_threshold_minor)} CNY",
        )
    return RiskDecision(True)


# --- the saga's clock ----------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    step: timedelta = timedelta(seconds=5)
    # Tries of a reservation before the payment gives up (and releases, in case it landed).
    max_reserve_attempts: int = 6


def next_deadline(now: datetime, timeouts: Timeouts, attempt: int) -> datetime:
    """Back off a little with each try, capped at four steps."""
    return now + timeouts.step * min(attempt, 4)


def minor_from_decimal(amount: Decimal) -> int:
    try:
        return to_minor(amount)
    except InvalidAmount as exc:
        raise PaymentRejected("invalid-amount", str(exc)) from None
