"""The AML rules as pure functions over a customer's money movements: large-value
transaction reports on the PBoC thresholds, the suspicious-transaction patterns, and the
sandbox's magic amounts that force each. No I/O here (docs/compliance.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from shared.clock import BANK_TZ

# The thresholds are in yuan; movements in other currencies are recorded, never measured.
CNY = "CNY"


class Kind(StrEnum):
    """What a movement was, told by the other side of its ledger posting."""

    CASH_DEPOSIT = "cash_deposit"  # from the external cash-in account (sandbox deposits)
    CASH_WITHDRAWAL = "cash_withdrawal"  # to it (no Sandbank flow pays cash out yet)
    TRANSFER = "transfer"  # between two customers' accounts
    BILL = "bill"
    QR = "qr"
    TOPUP = "topup"
    SECURITIES = "securities"  # securities settlement, sale proceeds, bank-securities transfers
    INSURANCE = "insurance"  # premiums and claims payouts
    OTHER = "other"


CASH_KINDS = frozenset({Kind.CASH_DEPOSIT, Kind.CASH_WITHDRAWAL})


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Rule(StrEnum):
    LARGE_CASH = "large_cash"
    LARGE_TRANSFER = "large_transfer"
    STRUCTURING = "structuring"
    RAPID_IN_OUT = "rapid_in_out"
    DORMANT = "dormant"
    MANY_PAYERS = "many_payers"


# Large-value reports (大额交易报告) are filed on a threshold; the rest are suspicious
# transaction reports (可疑交易报告), filed on a reviewer's judgement.
LARGE_VALUE = frozenset({Rule.LARGE_CASH, Rule.LARGE_TRANSFER})


def category(rule: Rule) -> str:
    return "large_value" if rule in LARGE_VALUE else "suspicious"


# Sandbox magic values: a movement whose amount ends in these fen forces the rule, whatever
# the thresholds (docs/sandbox.md). For a movement between two customers it is the payer's
# side that raises, except for many payers, raised on the payee's.
MAGIC_FEN: dict[int, Rule] = {
    71: Rule.LARGE_CASH,
    72: Rule.LARGE_TRANSFER,
    73: Rule.STRUCTURING,
    74: Rule.RAPID_IN_OUT,
    75: Rule.DORMANT,
    76: Rule.MANY_PAYERS,
}


@dataclass(frozen=True)
class Thresholds:
    """The rules' knobs, in minor units and hours (defaults: docs/compliance.md)."""

    # PBoC Order [2016] No. 3, art. 5: cash of 50,000 yuan or more in a day, single or
    # cumulative; a natural person's domestic transfers of 500,000 yuan or more in a day.
    large_cash_minor: int = 50_000_00
    large_transfer_minor: int = 500_000_00
    structuring_window_h: float = 72
    structuring_min_count: int = 3
    structuring_band: float = 0.8
    rapid_window_h: float = 24
    rapid_min_in_minor: int = 10_000_00
    rapid_out_ratio: float = 0.9
    dormant_days: int = 180
    dormant_min_minor: int = 10_000_00
    many_payers_window_h: float = 24
    many_payers_min: int = 5

    @property
    def lookback(self) -> timedelta:
        """How far back any rule looks (a bank day at least, for the daily sums)."""
        hours = max(self.structuring_window_h, self.rapid_window_h, self.many_payers_window_h, 48)
        return timedelta(hours=hours)


@dataclass(frozen=True)
class Movement:
    """One side of a ledger posting, as the customer's account sees it."""

    id: str
    at: datetime  # on the sandbox clock
    account_id: str
    customer_id: str | None
    direction: Direction
    kind: Kind
    amount_minor: int
    currency: str
    counterparty_account_id: str
    counterparty_customer_id: str | None = None

    @property
    def bank_day(self) -> date:
        return self.at.astimezone(BANK_TZ).date()

    @property
    def two_sided(self) -> bool:
        """Between two customers (each side has a movement of its own)."""
        return self.counterparty_customer_id is not None

    @property
    def counts_as_transfer(self) -> bool:
        """A non-cash movement with someone else: the PBoC's 款项划转. Moves between the
        customer's own accounts are not."""
        return self.kind not in CASH_KINDS and self.counterparty_customer_id != self.customer_id


@dataclass(frozen=True)
class Finding:
    """What a rule found: an alert to raise unless one with the same `key` exists."""

    rule: Rule
    key: str  # the same window never raises twice
    customer_id: str
    account_id: str
    movements: tuple[Movement, ...]
    detail: str
    forced: bool = False

    @property
    def total_minor(self) -> int:
        return sum(m.amount_minor for m in self.movements)


@dataclass(frozen=True)
class History:
    """What the rules see besides the new movement: the customer's earlier movements within
    `Thresholds.lookback`, the ids each rule already raised on, and when the movement's
    account last moved (or was opened)."""

    movements: Sequence[Movement] = ()
    covered: dict[Rule, frozenset[str]] = field(default_factory=dict)
    account_last_active_at: datetime | None = None

    def uncovered(self, rule: Rule) -> list[Movement]:
        done = self.covered.get(rule, frozenset())
        return [m for m in self.movements if m.id not in done]


def evaluate(new: Movement, history: History, t: Thresholds, *, sandbox: bool) -> list[Finding]:
    """Every finding `new` makes, given what came before it."""
    if new.customer_id is None or new.currency != CNY:
        return []
    found: list[Finding] = []
    if sandbox and (rule := forced_rule(new)) is not None:
        found.append(_forced(rule, new))
    for check in (large_cash, large_transfer, structuring, rapid_in_out, dormant, many_payers):
        finding = check(new, history, t)
        if finding is not None and not any(f.rule is finding.rule for f in found):
            found.append(finding)
    return found


def forced_rule(m: Movement) -> Rule | None:
    rule = MAGIC_FEN.get(m.amount_minor % 100)
    if rule is None or not m.two_sided:
        return rule
    receiving = rule is Rule.MANY_PAYERS
    return rule if (m.direction is Direction.IN) == receiving else None


def _forced(rule: Rule, m: Movement) -> Finding:
    assert m.customer_id is not None
    fen = m.amount_minor % 100
    return Finding(
        rule,
        f"{rule}:forced:{m.id}",
        m.customer_id,
        m.account_id,
        (m,),
        f"sandbox magic amount ending in .{fen}",
        forced=True,
    )


def large_cash(new: Movement, history: History, t: Thresholds) -> Finding | None:
    """Cash in (or out) of 50,000 yuan or more in one bank day, single or cumulative."""
    if new.kind not in CASH_KINDS:
        return None
    assert new.customer_id is not None
    day = [m for m in [*history.movements, new] if m.kind in CASH_KINDS]
    return _daily(Rule.LARGE_CASH, new, day, t.large_cash_minor, "cash")


def large_transfer(new: Movement, history: History, t: Thresholds) -> Finding | None:
    """A natural person's domestic transfers of 500,000 yuan or more in one bank day, in or
    out, single or cumulative."""
    if not new.counts_as_transfer:
        return None
    day = [m for m in [*history.movements, new] if m.counts_as_transfer]
    return _daily(Rule.LARGE_TRANSFER, new, day, t.large_transfer_minor, "transfers")


def _daily(rule: Rule, new: Movement, same: list[Movement], threshold: int, what: str) -> Finding | None:
    assert new.customer_id is not None
    day = [m for m in same if m.bank_day == new.bank_day and m.direction is new.direction and m.currency == CNY]
    total = sum(m.amount_minor for m in day)
    if total < threshold:
        return None
    # One report per customer, bank day and direction: later movements that day add nothing.
    key = f"{rule}:{new.customer_id}:{new.bank_day.isoformat()}:{new.direction}"
    detail = f"{what} {new.direction} on {new.bank_day.isoformat()}: {total / 100:.2f} CNY in {len(day)} movement(s)"
    return Finding(rule, key, new.customer_id, new.account_id, tuple(day), detail)


def structuring(new: Movement, history: History, t: Thresholds) -> Finding | None:
    """Several movements, each just under a reporting threshold, within the window, that
    together pass it: amounts split to stay below the report."""
    threshold = t.large_cash_minor if new.kind in CASH_KINDS else t.large_transfer_minor
    if new.kind not in CASH_KINDS and not new.counts_as_transfer:
        return None
    assert new.customer_id is not None

    def just_under(m: Movement) -> bool:
        return t.structuring_band * threshold <= m.amount_minor < threshold and m.currency == CNY

    def alike(m: Movement) -> bool:
        same_kind = m.kind in CASH_KINDS if new.kind in CASH_KINDS else m.counts_as_transfer
        return same_kind and m.direction is new.direction

    if not just_under(new):
        return None
    since = new.at - timedelta(hours=t.structuring_window_h)
    group = [m for m in history.uncovered(Rule.STRUCTURING) if m.at >= since and alike(m) and just_under(m)]
    group.append(new)
    total = sum(m.amount_minor for m in group)
    if len(group) < t.structuring_min_count or total < threshold:
        return None
    detail = (
        f"{len(group)} movements each just under {threshold / 100:.2f} CNY within "
        f"{t.structuring_window_h:g} h, {total / 100:.2f} CNY in all"
    )
    return Finding(
        Rule.STRUCTURING,
        f"{Rule.STRUCTURING}:{new.customer_id}:{group[0].id}",
        new.customer_id,
        new.account_id,
        tuple(group),
        detail,
    )


def rapid_in_out(new: Movement, history: History, t: Thresholds) -> Finding | None:
    """Money in, and most of it out again, through one account within the window: a pass-
    through account."""
    if new.direction is not Direction.OUT:
        return None
    assert new.customer_id is not None
    since = new.at - timedelta(hours=t.rapid_window_h)
    recent = [m for m in history.uncovered(Rule.RAPID_IN_OUT) if m.account_id == new.account_id and m.at >= since]
    ins = [m for m in recent if m.direction is Direction.IN and m.currency == CNY]
    if not ins:
        return None
    first_in = ins[0].at
    money_in = sum(m.amount_minor for m in ins)
    outs = [m for m in recent if m.direction is Direction.OUT and m.at >= first_in and m.currency == CNY]
    outs.append(new)
    money_out = sum(m.amount_minor for m in outs)
    if money_in < t.rapid_min_in_minor or money_out < t.rapid_out_ratio * money_in:
        return None
    detail = (
        f"{money_in / 100:.2f} CNY in and {money_out / 100:.2f} CNY ({money_out / money_in:.0%}) out "
        f"within {t.rapid_window_h:g} h"
    )
    evidence = tuple(sorted([*ins, *outs], key=lambda m: m.at))
    return Finding(
        Rule.RAPID_IN_OUT,
        f"{Rule.RAPID_IN_OUT}:{new.account_id}:{ins[0].id}",
        new.customer_id,
        new.account_id,
        evidence,
        detail,
    )


def dormant(new: Movement, history: History, t: Thresholds) -> Finding | None:
    """A large movement on an account that had none for `dormant_days`."""
    last = history.account_last_active_at
    if last is None or new.amount_minor < t.dormant_min_minor:
        return None
    assert new.customer_id is not None
    quiet = new.at - last
    if quiet < timedelta(days=t.dormant_days):
        return None
    detail = f"{new.amount_minor / 100:.2f} CNY after {quiet.days} days without a movement"
    return Finding(Rule.DORMANT, f"{Rule.DORMANT}:{new.id}", new.customer_id, new.account_id, (new,), detail)


def _paid_into(new: Movement, history: History, t: Thresholds) -> list[Movement]:
    """The earlier transfers from other customers into `new`'s account within the many-payers
    window that no many-payers alert has raised on yet."""
    since = new.at - timedelta(hours=t.many_payers_window_h)
    return [
        m
        for m in history.uncovered(Rule.MANY_PAYERS)
        if m.account_id == new.account_id
        and m.at >= since
        and m.direction is Direction.IN
        and m.kind is Kind.TRANSFER
        and m.two_sided
    ]


def many_payers(new: Movement, history: History, t: Thresholds) -> Finding | None:
    """Transfers from many different customers into one account within the window: a
    collection account."""
    if new.direction is not Direction.IN or new.kind is not Kind.TRANSFER or not new.two_sided:
        return None
    assert new.customer_id is not None
    into = [*_paid_into(new, history, t), new]
    payers = {m.counterparty_customer_id for m in into}
    if len(payers) < t.many_payers_min:
        return None
    detail = f"{len(payers)} different payers within {t.many_payers_window_h:g} h"
    return Finding(
        Rule.MANY_PAYERS,
        f"{Rule.MANY_PAYERS}:{new.account_id}:{into[0].id}",
        new.customer_id,
        new.account_id,
        tuple(into),
        detail,
    )


# --- the prefilter: whether any rule could fire, before the history is read -----------


@dataclass(frozen=True)
class Signals:
    """The sums and counts of a customer's history each rule needs before it can fire, read
    in one aggregate query (store.signals) instead of the movements themselves. Over the
    history `evaluate` would see: movements within `Thresholds.lookback`, coverage by alerts
    raised within it."""

    # The new movement's bank day, in its direction, CNY: cash, and what counts as transfers.
    cash_day_minor: int = 0
    transfers_day_minor: int = 0
    # The new movement's account within the rapid window, CNY, not yet covered by a
    # rapid-in-out alert: how many movements in, their sum, and the sum of all out.
    rapid_in_count: int = 0
    rapid_in_minor: int = 0
    rapid_out_minor: int = 0
    # Distinct payers other than the new movement's of uncovered two-sided transfers into
    # its account within the many-payers window.
    other_payers: int = 0


def signals_of(new: Movement, history: History, t: Thresholds) -> Signals:
    """What store.signals reads in SQL, over a History in memory (its definition, for tests):
    only the sums a rule that can apply to `new` needs, the rest 0."""
    day: list[Movement] = []
    if new.kind in CASH_KINDS or new.counts_as_transfer:
        day = [
            m
            for m in history.movements
            if m.bank_day == new.bank_day and m.direction is new.direction and m.currency == CNY
        ]
    rapid: list[Movement] = []
    if new.direction is Direction.OUT:
        rapid_since = new.at - timedelta(hours=t.rapid_window_h)
        rapid = [
            m
            for m in history.uncovered(Rule.RAPID_IN_OUT)
            if m.account_id == new.account_id and m.at >= rapid_since and m.currency == CNY
        ]
    rapid_in = [m for m in rapid if m.direction is Direction.IN]
    payers: set[str | None] = set()
    if new.direction is Direction.IN and new.kind is Kind.TRANSFER and new.two_sided:
        payers = {m.counterparty_customer_id for m in _paid_into(new, history, t)}
    return Signals(
        cash_day_minor=sum(m.amount_minor for m in day if m.kind in CASH_KINDS),
        transfers_day_minor=sum(m.amount_minor for m in day if m.counts_as_transfer),
        rapid_in_count=len(rapid_in),
        rapid_in_minor=sum(m.amount_minor for m in rapid_in),
        rapid_out_minor=sum(m.amount_minor for m in rapid if m.direction is Direction.OUT),
        other_payers=len(payers - {new.counterparty_customer_id}),
    )


def could_find(
    new: Movement, signals: Signals, t: Thresholds, *, sandbox: bool, account_last_active_at: datetime | None
) -> bool:
    """False only when `evaluate` would find nothing for `new` over a history with these
    signals, so the history is read only when some rule could fire."""
    return bool(could_fire(new, signals, t, sandbox=sandbox, account_last_active_at=account_last_active_at))


def could_fire(
    new: Movement, signals: Signals, t: Thresholds, *, sandbox: bool, account_last_active_at: datetime | None
) -> set[Rule]:
    """The rules whose necessary condition holds for `new` over a history with these signals
    (and the rule its magic amount forces): a rule left out finds nothing. Amounts are never
    negative, so a sum over more movements is never smaller."""
    if new.customer_id is None or new.currency != CNY:
        return set()
    possible = set()
    if sandbox and (forced := forced_rule(new)) is not None:
        possible.add(forced)
    amount = new.amount_minor
    cash, transfer = new.kind in CASH_KINDS, new.counts_as_transfer
    if cash and signals.cash_day_minor + amount >= t.large_cash_minor:
        possible.add(Rule.LARGE_CASH)
    if transfer and signals.transfers_day_minor + amount >= t.large_transfer_minor:
        possible.add(Rule.LARGE_TRANSFER)
    # Structuring needs the new movement itself just under its threshold.
    threshold = t.large_cash_minor if cash else t.large_transfer_minor
    if (cash or transfer) and t.structuring_band * threshold <= amount < threshold:
        possible.add(Rule.STRUCTURING)
    # Rapid in and out: its money out is some of the window's out, plus the new movement.
    if (
        new.direction is Direction.OUT
        and signals.rapid_in_count > 0
        and signals.rapid_in_minor >= t.rapid_min_in_minor
        and signals.rapid_out_minor + amount >= t.rapid_out_ratio * signals.rapid_in_minor
    ):
        possible.add(Rule.RAPID_IN_OUT)
    last = account_last_active_at
    if last is not None and amount >= t.dormant_min_minor and new.at - last >= timedelta(days=t.dormant_days):
        possible.add(Rule.DORMANT)
    if receiving(new) and signals.other_payers + 1 >= t.many_payers_min:
        possible.add(Rule.MANY_PAYERS)
    return possible


def receiving(new: Movement) -> bool:
    """A transfer from another customer into the account: what many payers counts."""
    return new.direction is Direction.IN and new.kind is Kind.TRANSFER and new.two_sided


class Reads(StrEnum):
    """How much of the history `evaluate` needs, the rules that could fire being known."""

    NOTHING = "nothing"  # the new movement and its account's last activity
    PAYERS = "payers"  # the many-payers window of the account (payers_history)
    ALL = "all"


# The rules that read more of the history than the many-payers window of the account.
_WIDE = frozenset({Rule.LARGE_CASH, Rule.LARGE_TRANSFER, Rule.STRUCTURING, Rule.RAPID_IN_OUT})


def reads(new: Movement, possible: set[Rule], *, sandbox: bool) -> Reads:
    """What `evaluate` reads of the history, for the same findings as over all of it. A rule
    a magic amount forces needs none (its own check's finding is dropped); dormant reads no
    movement; each other rule left out of `possible` finds nothing over fewer movements if it
    found nothing over all (rapid in and out, which is not so, looks at money out only)."""
    forced = forced_rule(new) if sandbox else None
    wanted = possible - {forced, Rule.DORMANT}
    if not wanted:
        return Reads.NOTHING
    if receiving(new) and not wanted & _WIDE:
        return Reads.PAYERS
    return Reads.ALL


def payers_history(new: Movement, history: History, t: Thresholds) -> History:
    """All that many payers reads of `history` (store.payments_into reads it in SQL): the
    uncovered transfers from other customers into the account within its window."""
    since = new.at - timedelta(hours=t.many_payers_window_h)
    into = [
        m
        for m in history.uncovered(Rule.MANY_PAYERS)
        if m.account_id == new.account_id and m.at >= since and receiving(m)
    ]
    return History(movements=tuple(into), account_last_active_at=history.account_last_active_at)
