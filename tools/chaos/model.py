"""The model of acknowledged outcomes: every operation a client sent, under its
Idempotency-Key, what the bank answered, what it later said the operation became, and
the money a completed operation must have moved (its effects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Answer = Literal["accepted", "refused", "unknown"]
KINDS = (
    "deposit",
    "transfer",
    "bill",
    "securities_transfer",
    "order_buy",
    "order_sell",
    "policy",
    "claim",
)
# The final statuses after which an operation's saga can move no more money.
TERMINAL: dict[str, frozenset[str]] = {
    "deposit": frozenset({"completed", "failed"}),
    "transfer": frozenset({"completed", "failed"}),
    "bill": frozenset({"completed", "failed"}),
    "securities_transfer": frozenset({"completed", "failed"}),
    "order_buy": frozenset({"filled", "cancelled", "rejected"}),
    "order_sell": frozenset({"filled", "cancelled", "rejected"}),
    # A paid policy ends as `expired` (then `lapsed`) once the clock passes its end.
    "policy": frozenset({"active", "expired", "lapsed", "failed"}),
    # An approved claim whose payout failed stays `approved` (docs/sandbox.md); the read
    # back turns that into `payout_failed`.
    "claim": frozenset({"closed", "paid", "rejected", "payout_failed"}),
}
# The statuses whose operation moved its money.
DONE: dict[str, frozenset[str]] = {
    "deposit": frozenset({"completed"}),
    "transfer": frozenset({"completed"}),
    "bill": frozenset({"completed"}),
    "securities_transfer": frozenset({"completed"}),
    "order_buy": frozenset({"filled"}),
    "order_sell": frozenset({"filled"}),
    "policy": frozenset({"active", "expired", "lapsed"}),
    "claim": frozenset({"paid", "closed"}),
}
ORDER_KINDS = frozenset({"order_buy", "order_sell"})
# Payments make exactly one statement line on each account they touch.
ONE_LINE_KINDS = frozenset({"deposit", "transfer", "bill", "securities_transfer"})


@dataclass
class Operation:
    """One request that moves money, as the model keeps it."""

    kind: str
    key: str  # its Idempotency-Key
    client: int
    started_at: float  # seconds since the run started
    # The accounts it touches: for a transfer the payer and the payee, for a
    # securities transfer the one debited and the one credited.
    debit: str | None = None
    credit: str | None = None
    amount_minor: int | None = None  # as sent; the bank's figure (fees included) comes back in `final_amount_minor`
    id: str | None = None
    answer: Answer = "unknown"
    http_status: int | None = None
    problem: str | None = None  # the refusal's problem type slug
    attempts: int = 0
    answered_at: float | None = None
    status: str | None = None  # as last read back
    path: str = ""  # what was sent, to send again under the same key
    body: dict[str, Any] | None = None
    final_amount_minor: int | None = None
    # An order's shares as sent, the shares that settled as read back, and its trade
    # confirmations (shares, net_minor), read once it has ended with shares filled.
    quantity: int | None = None
    filled_quantity: int | None = None
    trades: list[tuple[int, int]] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL[self.kind]

    @property
    def done(self) -> bool:
        """Whether it moved its money: its final status says so, or an order ended with
        shares filled (a part-filled order cancelled, or its remainder refused), whose
        settled fills moved `final_amount_minor` (the order's `amount_minor`)."""
        if self.status in DONE[self.kind]:
            return True
        return self.kind in ORDER_KINDS and self.terminal and (self.filled_quantity or 0) > 0

    def effects(self) -> dict[str, int]:
        """The money this operation must have moved, by account (credits positive); nothing
        unless it completed."""
        if not self.done:
            return {}
        amount = self.final_amount_minor if self.final_amount_minor is not None else self.amount_minor
        if amount is None:
            return {}
        moved: dict[str, int] = {}
        if self.debit:
            moved[self.debit] = moved.get(self.debit, 0) - amount
        if self.credit:
            moved[self.credit] = moved.get(self.credit, 0) + amount
        return moved

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class History:
    """Every operation of a run, in the order the clients started them."""

    operations: list[Operation] = field(default_factory=list)

    def add(self, op: Operation) -> Operation:
        self.operations.append(op)
        return op

    def by_id(self) -> dict[str, Operation]:
        return {op.id: op for op in self.operations if op.id}

    def accounts(self) -> set[str]:
        return {a for op in self.operations for a in (op.debit, op.credit) if a}

    def expected_balances(self) -> dict[str, int]:
        """Each account's balance if every completed operation moved its amount once (every
        account in the model starts empty: clients register their own customers)."""
        balances = dict.fromkeys(self.accounts(), 0)
        for op in self.operations:
            for account, amount in op.effects().items():
                balances[account] += amount
        return balances

    def counts(self) -> dict[str, dict[str, int]]:
        """Operations by kind, then by answer and (for accepted ones) final status."""
        out: dict[str, dict[str, int]] = {}
        for op in self.operations:
            row = out.setdefault(op.kind, {})
            label = op.answer if op.answer != "accepted" else f"accepted:{op.status or 'unread'}"
            row[label] = row.get(label, 0) + 1
        return out
