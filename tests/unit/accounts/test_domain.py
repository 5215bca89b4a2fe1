"""The ledger's pure rules: postings, holds, credits, transfers and KYC class limits."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from services.accounts.domain import (
    Account,
    BalanceCapExceeded,
    ClassLimits,
    CurrencyMismatch,
    Hold,
    HoldNotActive,
    HoldStatus,
    InsufficientFunds,
    InvalidAmount,
    KycClass,
    LedgerError,
    LimitExceeded,
    Line,
    Posting,
    apply,
    capture,
    credit,
    release,
    reserve,
    transfer,
)

LIMITS = ClassLimits()
CLASS_II_DAILY = 10_000_00
CLASS_III_CAP = 2_000_00


def cash_in() -> Account:
    return Account(id="internal:cash-in", currency="CNY", allow_overdraft=True)


def customer(account_id: str = "alice", balance: int = 0, kyc: KycClass | None = KycClass.I, held: int = 0) -> Account:
    return Account(
        id=account_id,
        currency="CNY",
        balance_minor=balance,
        held_minor=held,
        customer_id=f"cust-{account_id}",
        kyc_class=kyc,
    )


def hold(amount: int, account_id: str = "alice", hold_id: str = "h1", **kw: object) -> Hold:
    return Hold(id=hold_id, account_id=account_id, amount_minor=amount, currency="CNY", **kw)  # type: ignore[arg-type]


def reserved(account: Account, amount: int, hold_id: str = "h1") -> Hold:
    h = hold(amount, account.id, hold_id)
    reserve(account, h, outflow_today_minor=0, limits=LIMITS)
    return h


# --- postings ---------------------------------------------------------------------------


def test_balanced_posting_is_accepted_and_applied() -> None:
    a, b = customer("a", 500), customer("b")
    posting = Posting((Line("a", -300, "CNY"), Line("b", 300, "CNY")))

    apply(posting, {"a": a, "b": b})

    assert (a.balance_minor, b.balance_minor) == (200, 300)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param((Line("a", -300, "CNY"), Line("b", 299, "CNY")), id="one fen short"),
        pytest.param((Line("a", 1, "CNY"),), id="single line"),
        pytest.param((Line("a", -1, "CNY"), Line("b", 1, "USD")), id="balanced across currencies only"),
        pytest.param((Line("a", -5, "CNY"), Line("b", 3, "CNY"), Line("c", 1, "CNY")), id="three lines off by one"),
    ],
)
def test_unbalanced_posting_is_refused(lines: tuple[Line, ...]) -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        Posting(lines)


def test_multi_currency_posting_balances_per_currency() -> None:
    Posting((Line("a", -1, "CNY"), Line("b", 1, "CNY"), Line("c", -7, "USD"), Line("d", 7, "USD")))


# --- reserve / release / capture -----------------------------------------------------------


def test_reserve_lowers_available_not_balance() -> None:
    a = customer(balance=1000)

    h = reserved(a, 400)

    assert (a.balance_minor, a.held_minor, a.available_minor) == (1000, 400, 600)
    assert h.status == HoldStatus.ACTIVE


def test_reserve_of_exactly_the_available_balance_is_allowed() -> None:
    a = customer(balance=1000, held=250)
    reserved(a, 750)
    assert a.available_minor == 0


def test_reserve_beyond_available_raises_insufficient_funds() -> None:
    a = customer(balance=1000, held=600)

    with pytest.raises(InsufficientFunds) as err:
        reserve(a, hold(401), outflow_today_minor=0, limits=LIMITS)

    assert err.value.reason == "insufficient_funds"
    assert "4.00" in err.value.detail
    assert (a.balance_minor, a.held_minor) == (1000, 600)


def test_overdraft_account_may_reserve_into_the_negative() -> None:
    internal = cash_in()
    reserved(internal, 5000)
    assert internal.available_minor == -5000


def test_release_frees_the_hold_and_is_idempotent() -> None:
    a = customer(balance=1000)
    h = reserved(a, 400)

    assert release(a, h) == 400
    assert release(a, h) == 0

    assert (a.held_minor, a.available_minor) == (0, 1000)
    assert h.status == HoldStatus.RELEASED


@pytest.mark.parametrize("status", [HoldStatus.CAPTURED, HoldStatus.REJECTED])
def test_release_of_a_finished_hold_raises(status: HoldStatus) -> None:
    a = customer(balance=1000, held=400)
    with pytest.raises(HoldNotActive):
        release(a, hold(400, status=status))
    assert a.held_minor == 400


def test_full_capture_posts_the_hold_into_the_target() -> None:
    a, shop = customer("a", 1000), customer("shop")
    h = reserved(a, 400)

    posting, released = capture(a, shop, h, None, limits=LIMITS)

    assert released == 0
    assert posting.lines == (Line("a", -400, "CNY"), Line("shop", 400, "CNY"))
    assert (a.balance_minor, a.held_minor, shop.balance_minor) == (600, 0, 400)
    assert h.status == HoldStatus.CAPTURED


def test_partial_capture_posts_part_and_releases_the_rest() -> None:
    a, shop = customer("a", 1000), customer("shop")
    h = reserved(a, 400)

    posting, released = capture(a, shop, h, 150, limits=LIMITS)

    assert released == 250
    assert posting.lines == (Line("a", -150, "CNY"), Line("shop", 150, "CNY"))
    assert (a.balance_minor, a.held_minor, a.available_minor) == (850, 0, 850)
    assert shop.balance_minor == 150


@pytest.mark.parametrize("status", [HoldStatus.RELEASED, HoldStatus.CAPTURED, HoldStatus.REJECTED])
def test_capture_of_a_non_active_hold_raises(status: HoldStatus) -> None:
    a, shop = customer("a", 1000), customer("shop")
    with pytest.raises(HoldNotActive):
        capture(a, shop, hold(100, "a", status=status), None, limits=LIMITS)
    assert (a.balance_minor, shop.balance_minor) == (1000, 0)


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        pytest.param(0, InvalidAmount, id="zero"),
        pytest.param(-1, InvalidAmount, id="negative"),
        pytest.param(401, InvalidAmount, id="more than the hold"),
    ],
)
def test_capture_refuses_bad_amounts_and_changes_nothing(amount: int, error: type[LedgerError]) -> None:
    a, shop = customer("a", 1000), customer("shop")
    h = reserved(a, 400)

    with pytest.raises(error):
        capture(a, shop, h, amount, limits=LIMITS)

    assert (a.balance_minor, a.held_minor, shop.balance_minor) == (1000, 400, 0)
    assert h.status == HoldStatus.ACTIVE


def test_capture_into_a_capped_class_iii_account_is_refused() -> None:
    a = customer("a", 5000_00)
    small = customer("small", CLASS_III_CAP - 100, kyc=KycClass.III)
    h = reserved(a, 101)

    with pytest.raises(BalanceCapExceeded):
        capture(a, small, h, None, limits=LIMITS)

    assert h.status == HoldStatus.ACTIVE and a.held_minor == 101


# --- credit / transfer -----------------------------------------------------------------------


def test_credit_moves_money_from_the_internal_account() -> None:
    source, a = cash_in(), customer()

    posting = credit(source, a, 5000, "CNY", limits=LIMITS)

    assert posting.lines == (Line(source.id, -5000, "CNY"), Line("alice", 5000, "CNY"))
    assert (source.balance_minor, a.balance_minor) == (-5000, 5000)


def test_credit_to_itself_is_refused() -> None:
    source = cash_in()
    with pytest.raises(InvalidAmount):
        credit(source, source, 100, "CNY", limits=LIMITS)


def test_credit_from_a_customer_without_funds_raises_insufficient_funds() -> None:
    with pytest.raises(InsufficientFunds):
        credit(customer("a", 99), customer("b"), 100, "CNY", limits=LIMITS)


def test_transfer_moves_money_in_one_balanced_posting() -> None:
    a, b = customer("a", 1000), customer("b", 50)

    posting = transfer(a, b, 300, "CNY", outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)

    assert sum(line.amount_minor for line in posting.lines) == 0
    assert (a.balance_minor, b.balance_minor) == (700, 350)


def test_transfer_respects_holds() -> None:
    a, b = customer("a", 1000), customer("b")
    reserved(a, 800)
    with pytest.raises(InsufficientFunds):
        transfer(a, b, 201, "CNY", outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)
    assert (a.balance_minor, b.balance_minor) == (1000, 0)


def test_transfer_to_itself_is_refused() -> None:
    a = customer("a", 1000)
    with pytest.raises(InvalidAmount, match="itself"):
        transfer(a, a, 100, "CNY", outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)
    assert a.balance_minor == 1000


# --- invalid inputs ------------------------------------------------------------------------------


def _ops() -> dict[str, object]:
    def do_reserve(a: Account, b: Account, amount: int, currency: str) -> None:
        reserve(a, Hold("h", a.id, amount, currency), outflow_today_minor=0, limits=LIMITS)

    def do_credit(a: Account, b: Account, amount: int, currency: str) -> None:
        credit(cash_in(), a, amount, currency, limits=LIMITS)

    def do_transfer(a: Account, b: Account, amount: int, currency: str) -> None:
        transfer(a, b, amount, currency, outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)

    def do_capture(a: Account, b: Account, amount: int, currency: str) -> None:
        h = Hold("h", a.id, 10_000, currency if currency == "CNY" else "CNY")
        reserve(a, h, outflow_today_minor=0, limits=LIMITS)
        capture(a, b, h, amount, limits=LIMITS)

    return {"reserve": do_reserve, "credit": do_credit, "transfer": do_transfer, "capture": do_capture}


OPS = _ops()


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [
        pytest.param(0, "CNY", InvalidAmount, id="zero"),
        pytest.param(-100, "CNY", InvalidAmount, id="negative"),
        pytest.param(100, "USD", CurrencyMismatch, id="wrong currency"),
    ],
)
def test_invalid_inputs_are_refused_with_their_reason(
    op: str, amount: int, currency: str, error: type[LedgerError]
) -> None:
    a, b = customer("a", 1_000_000), customer("b")
    if op == "capture" and error is CurrencyMismatch:
        b.currency = "USD"  # a hold's currency is the account's; the target's may differ
    before = (a.balance_minor, b.balance_minor)

    with pytest.raises(error) as err:
        OPS[op](a, b, amount, currency)  # type: ignore[operator]

    assert err.value.reason == error.reason
    assert (a.balance_minor, b.balance_minor) == before


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (InsufficientFunds, "insufficient_funds"),
        (LimitExceeded, "limit_exceeded"),
        (BalanceCapExceeded, "balance_cap_exceeded"),
        (CurrencyMismatch, "currency_mismatch"),
        (HoldNotActive, "hold_not_active"),
        (InvalidAmount, "invalid_amount"),
    ],
)
def test_every_domain_error_is_a_ledger_error_with_a_stable_reason(error: type[LedgerError], reason: str) -> None:
    assert issubclass(error, LedgerError)
    assert error.reason == reason


# --- KYC class limits --------------------------------------------------------------------------------


def test_class_ii_daily_outflow_counts_holds() -> None:
    a = customer("a", 50_000_00, kyc=KycClass.II)
    first = reserved(a, 6_000_00, "h1")

    with pytest.raises(LimitExceeded, match=r"4000\.00 left today"):
        reserve(a, hold(4_000_01, "a", "h2"), outflow_today_minor=first.amount_minor, limits=LIMITS)

    reserve(a, hold(4_000_00, "a", "h3"), outflow_today_minor=first.amount_minor, limits=LIMITS)
    assert a.held_minor == CLASS_II_DAILY


def test_class_ii_limit_applies_to_transfers_but_not_own_moves() -> None:
    a, b = customer("a", 50_000_00, kyc=KycClass.II), customer("b")

    with pytest.raises(LimitExceeded):
        transfer(a, b, CLASS_II_DAILY + 1, "CNY", outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)
    transfer(a, b, CLASS_II_DAILY + 1, "CNY", outflow_today_minor=0, counts_toward_limit=False, limits=LIMITS)

    assert b.balance_minor == CLASS_II_DAILY + 1


def test_hold_that_does_not_count_toward_the_limit_skips_it() -> None:
    a = customer("a", 50_000_00, kyc=KycClass.II)
    h = hold(20_000_00, "a", counts_toward_limit=False)
    reserve(a, h, outflow_today_minor=CLASS_II_DAILY, limits=LIMITS)
    assert a.held_minor == 20_000_00


@pytest.mark.parametrize(
    ("kyc", "spent", "amount", "allowed"),
    [
        (KycClass.I, 10**12, 10**9, True),
        (None, 10**12, 10**9, True),
        (KycClass.II, 0, CLASS_II_DAILY, True),
        (KycClass.II, 0, CLASS_II_DAILY + 1, False),
        (KycClass.II, CLASS_II_DAILY, 1, False),
        (KycClass.III, 0, 2_000_00, True),
        (KycClass.III, 1_000_00, 1_000_01, False),
    ],
)
def test_daily_outflow_limit_by_class(kyc: KycClass | None, spent: int, amount: int, allowed: bool) -> None:
    a = customer("a", 10**13, kyc=kyc)
    h = hold(amount, "a")
    if allowed:
        reserve(a, h, outflow_today_minor=spent, limits=LIMITS)
        assert a.held_minor == amount
    else:
        with pytest.raises(LimitExceeded):
            reserve(a, h, outflow_today_minor=spent, limits=LIMITS)
        assert a.held_minor == 0


def test_class_iii_balance_cap_refuses_credit_above_it() -> None:
    a = customer("a", CLASS_III_CAP - 500, kyc=KycClass.III)

    with pytest.raises(BalanceCapExceeded, match=r"2000\.00"):
        credit(cash_in(), a, 501, "CNY", limits=LIMITS)
    credit(cash_in(), a, 500, "CNY", limits=LIMITS)

    assert a.balance_minor == CLASS_III_CAP


def test_class_iii_balance_cap_refuses_transfer_in() -> None:
    a, capped = customer("a", 10_000_00), customer("c", CLASS_III_CAP, kyc=KycClass.III)
    with pytest.raises(BalanceCapExceeded):
        transfer(a, capped, 1, "CNY", outflow_today_minor=0, counts_toward_limit=True, limits=LIMITS)
    assert (a.balance_minor, capped.balance_minor) == (10_000_00, CLASS_III_CAP)


def test_limits_are_configurable() -> None:
    strict = ClassLimits(
        daily_outflow_minor={KycClass.I: 100, KycClass.II: 100, KycClass.III: 100},
        balance_cap_minor={KycClass.I: 1000, KycClass.II: None, KycClass.III: None},
    )
    a = customer("a", 500, kyc=KycClass.I)
    with pytest.raises(LimitExceeded):
        reserve(a, hold(101, "a"), outflow_today_minor=0, limits=strict)
    with pytest.raises(BalanceCapExceeded):
        credit(cash_in(), a, 501, "CNY", limits=strict)


# --- the ledger as a state machine --------------------------------------------------------------------


@dataclass
class Bank:
    """What the store keeps beside the accounts: holds and each customer's paid-out total."""

    accounts: dict[str, Account]
    holds: dict[str, Hold] = field(default_factory=dict)
    paid_today: dict[str, int] = field(default_factory=dict)
    postings: list[Posting] = field(default_factory=list)

    def outflow_today(self, account: Account) -> int:
        cid = account.customer_id
        if cid is None:
            return 0
        held = sum(
            h.amount_minor
            for h in self.holds.values()
            if h.status == HoldStatus.ACTIVE
            and h.counts_toward_limit
            and self.accounts[h.account_id].customer_id == cid
        )
        return self.paid_today.get(cid, 0) + held


def _new_bank() -> Bank:
    accounts = [
        Account("internal:cash-in", "CNY", allow_overdraft=True),
        Account("internal:fees", "CNY", allow_overdraft=True),
        Account("i-1", "CNY", customer_id="c-i", kyc_class=KycClass.I),
        Account("i-2", "CNY", customer_id="c-i", kyc_class=KycClass.I),
        Account("ii-1", "CNY", customer_id="c-ii", kyc_class=KycClass.II),
        Account("ii-2", "CNY", customer_id="c-ii", kyc_class=KycClass.II),
        Account("iii-1", "CNY", customer_id="c-iii", kyc_class=KycClass.III),
    ]
    return Bank({a.id: a for a in accounts})


ACCOUNT_IDS = sorted(_new_bank().accounts)
INTERNAL_IDS = [i for i in ACCOUNT_IDS if i.startswith("internal:")]
# Amounts around the interesting edges: the class III cap and the class II daily limit.
amounts = st.one_of(
    st.integers(min_value=-5, max_value=2_000),
    st.integers(min_value=1, max_value=15_000_00),
    st.sampled_from([CLASS_III_CAP, CLASS_II_DAILY, CLASS_II_DAILY + 1]),
)
currencies = st.sampled_from(["CNY"] * 9 + ["USD"])


class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of ledger operations; a refused one must change nothing."""

    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.bank = _new_bank()
        self.counter = 0

    def _attempt(self, op) -> bool:  # type: ignore[no-untyped-def]
        before = copy.deepcopy(self.bank)
        try:
            op()
            return True
        except LedgerError:
            # A refused operation is atomic: nothing moved, nothing held.
            assert {k: vars(a) for k, a in self.bank.accounts.items()} == {
                k: vars(a) for k, a in before.accounts.items()
            }
            assert [vars(h) for h in self.bank.holds.values()] == [vars(h) for h in before.holds.values()]
            return False

    def _record(self, posting: Posting) -> None:
        self.bank.postings.append(posting)

    @rule(target=holds, account=st.sampled_from(ACCOUNT_IDS), amount=amounts, currency=currencies, counts=st.booleans())
    def reserve(self, account: str, amount: int, currency: str, counts: bool) -> object:
        self.counter += 1
        acc = self.bank.accounts[account]
        h = Hold(f"h{self.counter}", account, amount, currency, counts_toward_limit=counts)
        outflow = self.bank.outflow_today(acc)

        def op() -> None:
            reserve(acc, h, outflow_today_minor=outflow, limits=LIMITS)
            self.bank.holds[h.id] = h

        return h.id if self._attempt(op) else multiple()

    @rule(hold_id=holds)
    def release(self, hold_id: str) -> None:
        h = self.bank.holds[hold_id]
        self._attempt(lambda: release(self.bank.accounts[h.account_id], h))

    @rule(hold_id=consumes(holds), to=st.sampled_from(ACCOUNT_IDS), amount=st.one_of(st.none(), amounts))
    def capture(self, hold_id: str, to: str, amount: int | None) -> None:
        h = self.bank.holds[hold_id]
        source = self.bank.accounts[h.account_id]
        paid_before = h.amount_minor

        def op() -> None:
            posting, released = capture(source, self.bank.accounts[to], h, amount, limits=LIMITS)
            self._record(posting)
            captured = paid_before - released
            assert captured == (paid_before if amount is None else amount)
            if h.counts_toward_limit and source.customer_id:
                cid = source.customer_id
                self.bank.paid_today[cid] = self.bank.paid_today.get(cid, 0) + captured

        self._attempt(op)

    @rule(source=st.sampled_from(INTERNAL_IDS), to=st.sampled_from(ACCOUNT_IDS), amount=amounts, currency=currencies)
    def credit(self, source: str, to: str, amount: int, currency: str) -> None:
        def op() -> None:
            self._record(credit(self.bank.accounts[source], self.bank.accounts[to], amount, currency, limits=LIMITS))

        self._attempt(op)

    @rule(
        source=st.sampled_from(ACCOUNT_IDS),
        to=st.sampled_from(ACCOUNT_IDS),
        amount=amounts,
        currency=currencies,
        counts=st.booleans(),
    )
    def transfer(self, source: str, to: str, amount: int, currency: str, counts: bool) -> None:
        src, dst = self.bank.accounts[source], self.bank.accounts[to]
        outflow = self.bank.outflow_today(src)

        def op() -> None:
            if source == to:
                with pytest.raises(InvalidAmount):
                    transfer(
                        src,
                        dst,
                        amount,
                        currency,
                        outflow_today_minor=outflow,
                        counts_toward_limit=counts,
                        limits=LIMITS,
                    )
                raise InvalidAmount("self-transfer refused as expected")
            self._record(
                transfer(
                    src, dst, amount, currency, outflow_today_minor=outflow, counts_toward_limit=counts, limits=LIMITS
                )
            )
            if counts and src.customer_id and src.customer_id != dst.customer_id:
                self.bank.paid_today[src.customer_id] = self.bank.paid_today.get(src.customer_id, 0) + amount

        self._attempt(op)

    @precondition(lambda self: bool(self.bank.paid_today))
    @rule()
    def new_bank_day(self) -> None:
        self.bank.paid_today.clear()

    # --- invariants, checked after every step ---

    @invariant()
    def sum_of_all_balances_is_zero(self) -> None:
        assert sum(a.balance_minor for a in self.bank.accounts.values()) == 0

    @invariant()
    def every_posting_balances(self) -> None:
        for posting in self.bank.postings:
            totals: dict[str, int] = {}
            for line in posting.lines:
                totals[line.currency] = totals.get(line.currency, 0) + line.amount_minor
            assert not any(totals.values())

    @invariant()
    def balances_equal_their_postings(self) -> None:
        sums = dict.fromkeys(self.bank.accounts, 0)
        for posting in self.bank.postings:
            for line in posting.lines:
                sums[line.account_id] += line.amount_minor
        assert sums == {k: a.balance_minor for k, a in self.bank.accounts.items()}

    @invariant()
    def no_available_balance_below_zero_without_overdraft(self) -> None:
        for a in self.bank.accounts.values():
            if not a.allow_overdraft:
                assert a.available_minor >= 0, a

    @invariant()
    def held_equals_active_holds(self) -> None:
        for a in self.bank.accounts.values():
            active = sum(
                h.amount_minor
                for h in self.bank.holds.values()
                if h.account_id == a.id and h.status == HoldStatus.ACTIVE
            )
            assert a.held_minor == active, a

    @invariant()
    def class_limits_hold(self) -> None:
        for a in self.bank.accounts.values():
            if a.kyc_class == KycClass.III:
                assert a.balance_minor <= CLASS_III_CAP
            limit = LIMITS.daily_outflow_minor.get(a.kyc_class) if a.kyc_class else None
            if limit is not None:
                assert self.bank.outflow_today(a) <= limit


LedgerMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much],
)
test_ledger_state_machine = LedgerMachine.TestCase
