"""The checker: what the model says must have happened against what the stack shows once
it is quiet. Pure: `check(history, observed)` takes what `target.observe` read and
returns every violation with its evidence."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.chaos.model import ONE_LINE_KINDS, ORDER_KINDS, History, Operation


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Line:
    """One statement line: the account it is on, the business object behind it, the
    signed amount."""

    account_id: str
    reference_id: str | None
    amount_minor: int
    line_id: int | None = None
    description: str = ""


@dataclass
class Observed:
    """What the stack showed once drained (or once the drain gave up)."""

    ledger: dict[str, Any]  # GET /v1/admin/ledger/check
    balances: dict[str, tuple[int, int]]  # account -> (balance_minor, held_minor)
    lines: list[Line]
    open_sagas: dict[str, list[dict[str, Any]]]  # service -> saga rows that have not ended
    outbox_backlog: dict[str, int]  # service -> rows waiting to be published
    consumer_lag: dict[str, int]  # "service/consumer" -> messages behind
    payments_non_terminal: int | None = None
    unreadable: list[str] = field(default_factory=list)  # what could not be read, and why
    # Each time `sandbank run` itself exited during the load without being asked to (its
    # supervisor gave up on a process): when, its exit code, the last lines it printed.
    stack_exits: list[dict[str, Any]] = field(default_factory=list)


def check(history: History, observed: Observed) -> list[Violation]:
    return [
        *_ledger(observed),
        *_terminal(history),
        *_balances(history, observed),
        *_statements(history, observed),
        *_orders(history),
        *_holds(observed),
        *_sagas(observed),
        *_drained(observed),
    ]


def _ledger(observed: Observed) -> list[Violation]:
    if observed.ledger.get("ok") is True:
        return []
    found = observed.ledger.get("violations") or []
    return [Violation("ledger_check", "the ledger check is not ok", {"violations": found[:50], "count": len(found)})]


def _terminal(history: History) -> list[Violation]:
    return [
        Violation(
            "operation_not_terminal",
            f"{op.kind} {op.id} is still {op.status!r} after the quiet period",
            _evidence(op),
        )
        for op in history.operations
        if op.answer == "accepted" and not op.terminal
    ]


def _balances(history: History, observed: Observed) -> list[Violation]:
    out = []
    for account, expected in sorted(history.expected_balances().items()):
        if account not in observed.balances:
            out.append(Violation("balance_unread", f"account {account} could not be read", {"account": account}))
            continue
        balance, _held = observed.balances[account]
        if balance != expected:
            touching = [op for op in history.operations if account in (op.debit, op.credit) and op.answer != "refused"]
            out.append(
                Violation(
                    "balance_matches_model",
                    f"account {account} holds {balance} but its completed operations add up to {expected}",
                    {
                        "account": account,
                        "balance_minor": balance,
                        "model_minor": expected,
                        "difference_minor": balance - expected,
                        "unknown_outcomes": [_evidence(op) for op in touching if op.answer == "unknown"][:20],
                    },
                )
            )
    return out


def _statements(history: History, observed: Observed) -> list[Violation]:
    """Each completed operation moved exactly its amount on each account it touches, once;
    a failed one moved nothing; and no line on a modelled account lacks an operation."""
    modelled = history.accounts()
    by_ref: dict[tuple[str, str], list[Line]] = defaultdict(list)
    stray: list[Line] = []
    known = history.by_id()
    for line in observed.lines:
        if line.account_id not in modelled:
            continue
        if line.reference_id in known:
            by_ref[(line.account_id, line.reference_id)].append(line)
        else:
            stray.append(line)
    out = []
    for op in history.operations:
        if not op.id:
            continue
        effects = op.effects()
        for account in {a for a in (op.debit, op.credit) if a}:
            lines = by_ref.get((account, op.id), [])
            moved = sum(line.amount_minor for line in lines)
            expected = effects.get(account, 0)
            evidence = {**_evidence(op), "account": account, "lines": [asdict(line) for line in lines]}
            if op.done and not lines:
                out.append(
                    Violation(
                        "missing_effect", f"{op.kind} {op.id} is {op.status} but moved nothing on {account}", evidence
                    )
                )
            elif not op.done and lines and moved != 0:
                out.append(
                    Violation(
                        "effect_of_unfinished_operation",
                        f"{op.kind} {op.id} is {op.status} yet moved {moved} on {account}",
                        evidence,
                    )
                )
            elif op.done and moved != expected:
                rule = (
                    "duplicate_effect"
                    if expected and moved % expected == 0 and moved // expected > 1
                    else "wrong_effect"
                )
                out.append(
                    Violation(rule, f"{op.kind} {op.id} moved {moved} on {account}, expected {expected}", evidence)
                )
            elif op.done and op.kind in ONE_LINE_KINDS and len(lines) != 1:
                out.append(
                    Violation(
                        "one_line_per_payment", f"{op.kind} {op.id} has {len(lines)} lines on {account}", evidence
                    )
                )
    unresolved = [op for op in history.operations if op.answer == "unknown" and not op.id]
    for line in stray:
        out.append(
            Violation(
                "line_without_operation",
                f"a line of {line.amount_minor} on {line.account_id} references {line.reference_id!r}, "
                "which no operation in the model has",
                {"line": asdict(line), "operations_never_answered": len(unresolved)},
            )
        )
    return out


def _orders(history: History) -> list[Violation]:
    """An ended order's filled shares are at most what it asked for (all of them if
    `filled`), and its trade confirmations add up to its filled shares and to the money it
    moved: a cancelled order with shares filled moved exactly what its fills settled."""
    out = []
    for op in history.operations:
        if op.kind not in ORDER_KINDS or not op.terminal or op.filled_quantity is None:
            continue
        evidence = {**_evidence(op), "quantity": op.quantity, "filled_quantity": op.filled_quantity}
        asked = op.quantity
        if asked is not None and (
            op.filled_quantity > asked or (op.status == "filled" and op.filled_quantity != asked)
        ):
            out.append(
                Violation(
                    "order_filled_quantity",
                    f"{op.kind} {op.id} is {op.status} with {op.filled_quantity} of {asked} shares filled",
                    evidence,
                )
            )
        if op.trades is None:
            continue
        shares, net = sum(q for q, _ in op.trades), sum(n for _, n in op.trades)
        moved = (op.final_amount_minor or 0) if op.filled_quantity else 0
        if (shares, net) != (op.filled_quantity, moved):
            out.append(
                Violation(
                    "trades_match_order",
                    f"{op.kind} {op.id} ({op.status}) has trades for {shares} shares and {net}, "
                    f"but {op.filled_quantity} shares filled and {moved} moved",
                    {**evidence, "trades": op.trades},
                )
            )
    return out


def _holds(observed: Observed) -> list[Violation]:
    out = []
    active = observed.ledger.get("active_holds")
    if active:
        out.append(Violation("no_active_hold", f"{active} holds are still active", {"active_holds": active}))
    for account, (_balance, held) in sorted(observed.balances.items()):
        if held:
            out.append(
                Violation(
                    "no_held_money",
                    f"account {account} still has {held} held",
                    {"account": account, "held_minor": held},
                )
            )
    return out


def _sagas(observed: Observed) -> list[Violation]:
    out = [
        Violation(
            "saga_terminal", f"{len(rows)} {service} sagas have not ended", {"service": service, "sagas": rows[:20]}
        )
        for service, rows in sorted(observed.open_sagas.items())
        if rows
    ]
    if observed.payments_non_terminal:
        out.append(
            Violation(
                "saga_terminal",
                f"payments reports {observed.payments_non_terminal} payments not terminal",
                {"non_terminal": observed.payments_non_terminal},
            )
        )
    return out


def _drained(observed: Observed) -> list[Violation]:
    out = [
        Violation(
            "outbox_drained", f"{service} has {rows} outbox rows unpublished", {"service": service, "backlog": rows}
        )
        for service, rows in sorted(observed.outbox_backlog.items())
        if rows
    ]
    out += [
        Violation("consumer_caught_up", f"consumer {name} is {lag} messages behind", {"consumer": name, "lag": lag})
        for name, lag in sorted(observed.consumer_lag.items())
        if lag
    ]
    out += [Violation("observable", f"could not read {what}", {}) for what in observed.unreadable]
    out += [
        Violation(
            "stack_stays_up", f"sandbank run stopped by itself at {e.get('at_s')}s (exit code {e.get('code')})", e
        )
        for e in observed.stack_exits
    ]
    return out


def _evidence(op: Operation) -> dict[str, Any]:
    return {
        "kind": op.kind,
        "id": op.id,
        "key": op.key,
        "answer": op.answer,
        "status": op.status,
        "amount_minor": op.final_amount_minor if op.final_amount_minor is not None else op.amount_minor,
        "debit": op.debit,
        "credit": op.credit,
    }
