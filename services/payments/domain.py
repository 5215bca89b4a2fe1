"""Payments rules as plain code: payment kinds, the sagas' decisions (a payment, a
sandbox deposit), risk rules, billers, merchants and the QR payload format. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from shared import payees
from shared.errors import DomainError
from shared.money import InvalidAmount, format_minor, to_minor
from shared.payees import QrPayload
from shared.saga.model import (
    COMPLETED,
    FAILED,
    IGNORE,
    TIMED_OUT,
    Decision,
    Saga,
    Timeouts,
    end,
    move,
    on_deadline,
)


class Kind(StrEnum):
    TRANSFER = "transfer"
    BILL = "bill"
    QR = "qr"
    TOPUP = "topup"


# The saga steps (shared.saga.model): the command in flight.
PAY = "pay"  # risk approved at the request: ReserveFunds sent with its capture, one command
RESERVE = "reserve"  # ReserveFunds sent alone, waiting for accounts; risk decides once the funds are held
CAPTURE = "capture"  # risk approved, CaptureHold sent
RELEASE = "release"  # failing: ReleaseHold sent, waiting for the release
CREDIT = "credit"  # a deposit's CreditAccount sent

# What the API and the events call each step of a payment ("stage").
STAGES = {PAY: "paying", RESERVE: "reserving_funds", CAPTURE: "capturing", RELEASE: "releasing"}


def stage(saga: Saga) -> str:
    """A payment's stage as the API shows it: its step, or how it ended."""
    return saga.outcome or STAGES.get(saga.step or "", saga.step or "")


def public_status(saga: Saga) -> str:
    """pending, completed or failed."""
    return saga.outcome or "pending"


class Reason(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CLASS_LIMIT_EXCEEDED = "class_limit_exceeded"
    RISK_REJECTED = "risk_rejected"
    PAYEE_UNAVAILABLE = "payee_unavailable"
    TIMED_OUT = TIMED_OUT
    PAYER_UNAVAILABLE = "payer_unavailable"
    ACCOUNT_FROZEN = "account_frozen"


# accounts' rejection reasons, as the customer reads them.
ACCOUNTS_REASONS = {
    "insufficient_funds": Reason.INSUFFICIENT_FUNDS,
    "limit_exceeded": Reason.CLASS_LIMIT_EXCEEDED,
    "balance_cap_exceeded": Reason.PAYEE_UNAVAILABLE,
    "account_not_found": Reason.PAYEE_UNAVAILABLE,
    "currency_mismatch": Reason.PAYEE_UNAVAILABLE,
    "account_frozen": Reason.ACCOUNT_FROZEN,
}


class PaymentRejected(DomainError):
    """A request refused before anything is written; `code` says which rule."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


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
        Biller("SH-WATER", "Shanghai Water", "water", r"[0-9]{10}", "10 digits"),
        Biller("SG-ELEC", "State Grid Electricity", "electricity", r"[0-9]{10,13}", "10 to 13 digits"),
        Biller("TG-GAS", "Towngas", "gas", r"[A-Z]{2}[0-9]{8}", "two letters and 8 digits"),
        Biller("CM-PHONE", "China Mobile bill", "phone", r"1[3-9][0-9]{9}", "an 11-digit mobile number"),
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


def parse_qr(payload: str) -> QrPayload:
    """The merchant QR format of shared/payees.py; a malformed one refuses the payment."""
    try:
        return payees.parse_qr(payload)
    except payees.MalformedQr as exc:
        raise PaymentRejected("malformed-qr", exc.detail) from None


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


@dataclass(frozen=True)
class NewDeviceLimits:
    """The lower limits of a session on a device the customer bound less than a day ago
    (gateway/identity/devices.py; `AUTH_NEW_DEVICE_*`)."""

    per_payment_minor: int
    daily_minor: int


def counts_toward_limits(customer_id: str, payee_customer_id: str | None) -> bool:
    """Whether a payment counts toward the day's limits, the class's (accounts' `ClassLimits`)
    and a new device's alike: a move between the customer's own accounts does not, as no
    money leaves them."""
    return payee_customer_id != customer_id


def device_is_new(new_device_until: float | None, now: datetime) -> bool:
    """Whether the gateway-signed `new_device_until` (epoch seconds, sandbox clock) is still ahead."""
    return new_device_until is not None and now.timestamp() < new_device_until


def check_schedule_device(new_device_until: float | None, now: datetime) -> None:
    """A scheduled transfer or standing order is a lasting instruction: its runs are made
    later by the bank, with no device to hold to limits, and one set up by whoever holds a
    stolen password would go on paying after they are gone. So a device signed in less
    than a day ago may not set one up (the customer may cancel one from it)."""
    if new_device_until is not None and device_is_new(new_device_until, now):
        until = datetime.fromtimestamp(new_device_until, UTC).isoformat(timespec="seconds")
        raise PaymentRejected(
            "schedule-needs-trusted-device",
            f"scheduled transfers and standing orders are set up from a device signed in more than a day "
            f"ago; this one may set them up from {until} (sandbox clock), or use a trusted device",
        )


@dataclass(frozen=True)
class NewDeviceDay:
    """Where a new device's limits stand today: what the customer's payments to others today
    (failed ones aside) have used of the daily cap, and what one more payment may be."""

    limits: NewDeviceLimits
    used_minor: int
    until: datetime  # when the device stops being new

    @property
    def remaining_minor(self) -> int:
        return max(0, self.limits.daily_minor - self.used_minor)

    @property
    def payable_now_minor(self) -> int:
        return min(self.limits.per_payment_minor, self.remaining_minor)


def check_new_device_limits(amount_minor: int, paid_today_minor: int, limits: NewDeviceLimits) -> None:
    """At request time, from a new device, a payment to someone else: at most
    `per_payment_minor`, and with the customer's payments to others today (those not
    failed) at most `daily_minor`."""
    if amount_minor > limits.per_payment_minor:
        raise PaymentRejected(
            "new-device-limit",
            f"from a device signed in less than a day ago one payment may be at most "
            f"{format_minor(limits.per_payment_minor)} CNY",
        )
    if paid_today_minor + amount_minor > limits.daily_minor:
        left = max(0, limits.daily_minor - paid_today_minor)
        raise PaymentRejected(
            "new-device-limit",
            f"from a device signed in less than a day ago payments may add up to "
            f"{format_minor(limits.daily_minor)} CNY a day; {format_minor(left)} CNY is left today",
        )


def payee_matters(amount_minor: int, policy: RiskPolicy) -> bool:
    """Whether `assess` reads `payee_known` for a payment of this amount: only a first
    payment to a payee above the threshold is refused for being one."""
    return amount_minor > policy.new_payee_threshold_minor


def assess(ctx: RiskContext, policy: RiskPolicy) -> RiskDecision:
    """The risk decision: taken when the payment is requested, and again once the funds
    are held for a payment it did not approve then."""
    if ctx.kind == Kind.TRANSFER and ctx.amount_minor == RISK_MAGIC_AMOUNT:
        return RiskDecision(False, "sandbox_magic_amount", "transfers of exactly 666.66 CNY are rejected (sandbox)")
    if ctx.recent_payments >= policy.velocity_max:
        return RiskDecision(
            False,
            "velocity",
            f"more than {policy.velocity_max} payments in {int(policy.velocity_window.total_seconds())} s",
        )
    if not ctx.payee_known and payee_matters(ctx.amount_minor, policy):
        return RiskDecision(
            False,
            "new_payee_threshold",
            f"a first payment to a new payee may not exceed {format_minor(policy.new_payee_threshold_minor)} CNY",
        )
    return RiskDecision(True)


# --- the sagas' decisions ---------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Payment:
    """A payment and its saga as the handlers work on it: a plain object (one per row of
    the `payment` table, `store.payment_of` maps them), so moving it costs no ORM
    bookkeeping on the hot path."""

    id: str
    kind: str
    customer_id: str
    idempotency_key: str
    payer_account_id: str
    payer_class: str | None
    payee_account_id: str
    payee_customer_id: str | None
    payee_key: str
    payee_label: str
    amount_minor: int
    currency: str
    reference: str = ""
    note: str = ""
    # The payer's masked name, as the payee's statement and view show it ("" before it was kept).
    payer_label: str = ""
    entry_id: str | None = None
    # The saga (shared.saga.model.Saga).
    step: str | None
    attempts: int
    deadline_at: datetime | None
    outcome: str | None = None
    reason: str | None = None
    detail: str | None = None
    correlation_id: str | None = None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class PaymentSaga:
    """A payment: hold the payer's funds, capture them into the payee, or release them and
    fail. Risk decides first, on what the request and the payer's recent payments show: a
    payment it approves is paid with one command (`PAY`: the hold and its capture in one
    transaction of accounts); any other holds the funds first (`RESERVE`), is decided
    again once they are held, and is released with them held, so its compensation runs
    and shows. `timeouts.max_attempts` bounds the tries of the first step only: a capture
    or a release is sent until accounts answers, since stopping either would leave money
    half moved."""

    policy: RiskPolicy = field(default_factory=RiskPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)

    def first_step(self, p: Payment, risk: RiskContext) -> str:
        """`PAY` for a payment risk approves and nothing else refuses, `RESERVE` otherwise."""
        if not assess(risk, self.policy).approved or _biller_refuses(p):
            return RESERVE
        return PAY

    def on_funds_reserved(self, p: Payment, risk: RiskContext | None) -> tuple[Decision, RiskDecision | None]:
        """The funds are held: risk decides (`risk` is read at `RESERVE` only), then the
        payment captures or releases. A payment sent as `PAY` was approved already; its
        hold came back uncaptured only from an accounts that does not capture with the
        reservation, so it captures now."""
        if p.step == PAY:
            return move(CAPTURE), None
        if p.step != RESERVE:
            return IGNORE, None
        if risk is None:
            raise ValueError("a reserved payment's risk decision needs its risk context")
        verdict = assess(risk, self.policy)
        if not verdict.approved:
            return move(RELEASE, Reason.RISK_REJECTED, verdict.detail), verdict
        if _biller_refuses(p):
            return move(RELEASE, Reason.PAYEE_UNAVAILABLE, "the biller refused the payment (sandbox biller)"), verdict
        return move(CAPTURE), verdict

    def on_reservation_rejected(self, p: Payment, reason: str, detail: str) -> Decision:
        if p.step in (PAY, RESERVE):
            return end(FAILED, ACCOUNTS_REASONS.get(reason, Reason.PAYER_UNAVAILABLE), detail)
        if p.step == RELEASE:  # a reservation given up on was never placed: nothing to free
            return end(FAILED)
        return IGNORE

    def on_hold_captured(self, p: Payment) -> Decision:
        """The money moved. Also after the payment gave up on its `PAY` and sent a release:
        the capture had landed first, and the ledger is the truth."""
        return end(COMPLETED) if p.step in (PAY, CAPTURE, RELEASE) else IGNORE

    def on_capture_rejected(self, p: Payment, detail: str) -> Decision:
        if p.step not in (PAY, CAPTURE):
            return IGNORE
        return move(RELEASE, Reason.PAYEE_UNAVAILABLE, detail or "the payee cannot receive this payment")

    def on_hold_released(self, p: Payment) -> Decision:
        return end(FAILED) if p.step == RELEASE else IGNORE

    def on_deadline(self, p: Payment) -> Decision:
        give_up = (
            move(RELEASE, Reason.TIMED_OUT, "the bank did not answer in time; nothing was paid")
            if p.step in (PAY, RESERVE)
            else Decision(retry=True)
        )
        return on_deadline(p, self.timeouts, give_up)


def _biller_refuses(p: Payment) -> bool:
    return p.kind == Kind.BILL and p.payee_key.startswith(payees.biller_payee(SANDBOX_FAIL_BILLER, ""))


@dataclass(frozen=True)
class DepositSaga:
    """A sandbox deposit: one CreditAccount from the external cash-in account. Re-sent
    until accounts answers or `max_attempts` sends; a credit that lands after the deposit
    gave up still completes it (the ledger is the truth, and the credit id is applied once)."""

    timeouts: Timeouts = field(default_factory=Timeouts)

    def on_credited(self, d: Saga) -> Decision:
        if d.outcome is None or (d.outcome == FAILED and d.reason == Reason.TIMED_OUT):
            return end(COMPLETED)
        return IGNORE

    def on_credit_rejected(self, d: Saga, reason: str, detail: str) -> Decision:
        return end(FAILED, reason, detail) if d.step == CREDIT else IGNORE

    def on_deadline(self, d: Saga) -> Decision:
        return on_deadline(d, self.timeouts, end(FAILED, Reason.TIMED_OUT, "accounts did not answer in time"))


def minor_from_decimal(amount: Decimal) -> int:
    try:
        return to_minor(amount)
    except InvalidAmount as exc:
        raise PaymentRejected("invalid-amount", str(exc)) from None


# --- payee look-ups, saved payees and the day's limits ----------------------------------------


class LookupAllowance:
    """A token bucket per customer for payee look-ups: `burst` at once, then one every
    `60 / per_minute` s. Confirming a payee's name is a look-up an app makes before a
    transfer; many of them are someone walking a list of numbers to harvest names. Kept in
    the process's memory, by customer, bounded by `max_customers` (past it, the fullest
    buckets are dropped: they would grant the same as new ones)."""

    def __init__(self, burst: int, per_minute: float, *, max_customers: int = 100_000) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("a look-up allowance needs a burst of at least 1 and a positive rate")
        self.burst, self.rate_per_s, self.max_customers = burst, per_minute / 60, max_customers
        self._buckets: dict[str, tuple[float, float]] = {}  # customer: (tokens, as of)

    def take(self, customer_id: str, now: float) -> float:
        """Take one look-up: 0.0 if granted, else the seconds until the next one is."""
        tokens, at = self._buckets.get(customer_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate_per_s)
        if tokens < 1:
            self._buckets[customer_id] = (tokens, now)
            return (1 - tokens) / self.rate_per_s
        if customer_id not in self._buckets and len(self._buckets) >= self.max_customers:
            full_after = self.burst / self.rate_per_s
            self._buckets = {c: (t, a) for c, (t, a) in self._buckets.items() if now - a < full_after}
            if len(self._buckets) >= self.max_customers:
                self._buckets.clear()
        self._buckets[customer_id] = (tokens - 1, now)
        return 0.0


SAVED_PAYEE_KINDS = ("account", "phone")


def saved_payee_ref(kind: str, ident: str) -> str:
    """What makes two saved payees of a customer the same one: the account or the number."""
    return f"{kind}:{ident}"


@dataclass(frozen=True)
class DayLimits:
    """A customer's limits on one bank day: per payment (payments' rule), per day (the
    KYC class's, which accounts checks at each reservation) and what today has used."""

    kyc_class: str
    per_payment_minor: int | None
    daily_minor: int | None
    used_minor: int

    @property
    def remaining_minor(self) -> int | None:
        return None if self.daily_minor is None else max(0, self.daily_minor - self.used_minor)

    @property
    def payable_now_minor(self) -> int | None:
        """The largest single payment the limits allow right now (None: no limit applies)."""
        found = [m for m in (self.per_payment_minor, self.remaining_minor) if m is not None]
        return min(found) if found else None


def day_limits(kyc_class: str, daily_minor: int | None, used_minor: int, policy: RiskPolicy) -> DayLimits:
    return DayLimits(kyc_class, policy.per_payment_minor.get(kyc_class), daily_minor, used_minor)
