"""The chaos suite's checker against planted histories: it must find a duplicate effect,
a missing one, a non-terminal saga, and say nothing of a history that holds."""

from __future__ import annotations

from typing import Any

import pytest

from tools.chaos.checker import Line, Observed, check
from tools.chaos.model import History, Operation

ALICE, BOB = "acc-alice", "acc-bob"


def op(
    kind: str, id_: str, status: str, amount: int, *, debit: str | None = None, credit: str | None = None
) -> Operation:
    return Operation(
        kind=kind,
        key=f"key-{id_}",
        client=0,
        started_at=0.0,
        debit=debit,
        credit=credit,
        amount_minor=amount,
        id=id_,
        answer="accepted",
        status=status,
    )


def history() -> History:
    h = History()
    h.add(op("deposit", "dep-1", "completed", 1000_00, credit=ALICE))
    h.add(op("transfer", "pay-1", "completed", 30_00, debit=ALICE, credit=BOB))
    h.add(op("transfer", "pay-2", "failed", 20_00, debit=ALICE, credit=BOB))
    h.add(op("policy", "pol-1", "active", 60_00, debit=ALICE))
    return h


def lines() -> list[Line]:
    return [
        Line(ALICE, "dep-1", 1000_00),
        Line(ALICE, "pay-1", -30_00),
        Line(BOB, "pay-1", 30_00),
        Line(ALICE, "pol-1", -60_00),
    ]


def observed(**changes: Any) -> Observed:
    base: dict[str, Any] = {
        "ledger": {"ok": True, "violations": [], "active_holds": 0},
        "balances": {ALICE: (910_00, 0), BOB: (30_00, 0)},
        "lines": lines(),
        "open_sagas": {"payments": []},
        "outbox_backlog": {"payments": 0},
        "consumer_lag": {"accounts/commands": 0},
        "payments_non_terminal": 0,
    }
    return Observed(**(base | changes))


def rules(found: list[Any]) -> set[str]:
    return {v.rule for v in found}


def test_a_history_that_holds_has_no_violation() -> None:
    assert check(history(), observed()) == []


def test_a_payment_applied_twice_is_a_duplicate_effect() -> None:
    doubled = [*lines(), Line(BOB, "pay-1", 30_00)]
    found = check(history(), observed(lines=doubled, balances={ALICE: (910_00, 0), BOB: (60_00, 0)}))
    assert {"duplicate_effect", "balance_matches_model"} <= rules(found)
    [dup] = [v for v in found if v.rule == "duplicate_effect"]
    assert dup.evidence["id"] == "pay-1" and dup.evidence["account"] == BOB and len(dup.evidence["lines"]) == 2


def test_a_completed_payment_with_no_line_is_a_missing_effect() -> None:
    without = [line for line in lines() if not (line.account_id == BOB and line.reference_id == "pay-1")]
    found = check(history(), observed(lines=without, balances={ALICE: (910_00, 0), BOB: (0, 0)}))
    assert {"missing_effect", "balance_matches_model"} <= rules(found)
    [balance] = [v for v in found if v.rule == "balance_matches_model"]
    assert balance.evidence["difference_minor"] == -30_00


def test_a_failed_payment_that_moved_money_is_found() -> None:
    moved = [*lines(), Line(ALICE, "pay-2", -20_00), Line(BOB, "pay-2", 20_00)]
    found = check(history(), observed(lines=moved, balances={ALICE: (890_00, 0), BOB: (50_00, 0)}))
    assert "effect_of_unfinished_operation" in rules(found)


def test_an_operation_still_pending_is_not_terminal() -> None:
    h = history()
    h.add(op("order_buy", "ord-1", "filling", 300_00, debit=ALICE))
    found = check(h, observed())
    assert [v.rule for v in found] == ["operation_not_terminal"]
    assert found[0].evidence["id"] == "ord-1"


def test_saga_rows_that_never_ended_are_violations() -> None:
    stuck = {"payments": [{"table": "deposit", "id": "dep-9", "kind": "deposit", "step": "credit"}]}
    found = check(history(), observed(open_sagas=stuck, payments_non_terminal=1))
    assert [v.rule for v in found] == ["saga_terminal", "saga_terminal"]


def test_a_line_no_operation_explains_is_found() -> None:
    found = check(
        history(),
        observed(lines=[*lines(), Line(BOB, "mystery", 5_00)], balances={ALICE: (910_00, 0), BOB: (35_00, 0)}),
    )
    assert {"line_without_operation", "balance_matches_model"} == rules(found)


def test_a_payment_with_two_lines_on_one_account_breaks_one_line_per_payment() -> None:
    split = [line for line in lines() if line.reference_id != "dep-1"] + [
        Line(ALICE, "dep-1", 400_00),
        Line(ALICE, "dep-1", 600_00),
    ]
    assert rules(check(history(), observed(lines=split))) == {"one_line_per_payment"}


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        (
            {"ledger": {"ok": False, "violations": [{"rule": "sum_of_balances_zero"}], "active_holds": 0}},
            "ledger_check",
        ),
        ({"ledger": {"ok": True, "violations": [], "active_holds": 2}}, "no_active_hold"),
        ({"balances": {ALICE: (910_00, 5_00), BOB: (30_00, 0)}}, "no_held_money"),
        ({"outbox_backlog": {"payments": 3}}, "outbox_drained"),
        ({"consumer_lag": {"accounts/commands": 12}}, "consumer_caught_up"),
        ({"unreadable": ["payments /metrics"]}, "observable"),
        ({"stack_exits": [{"at_s": 42.0, "code": 1, "log": ["broker died 5 times within 60s"]}]}, "stack_stays_up"),
    ],
)
def test_what_the_stack_still_holds_is_a_violation(changes: dict[str, Any], rule: str) -> None:
    assert rules(check(history(), observed(**changes))) == {rule}


def test_expected_balances_count_only_completed_operations() -> None:
    assert history().expected_balances() == {ALICE: 910_00, BOB: 30_00}


def test_an_operation_the_bank_never_answered_moves_nothing_in_the_model() -> None:
    h = history()
    lost = op("transfer", "pay-3", "completed", 5_00, debit=ALICE, credit=BOB)
    lost.id, lost.answer, lost.status = None, "unknown", None
    h.add(lost)
    assert h.expected_balances() == {ALICE: 910_00, BOB: 30_00}


def part_filled_buy(
    status: str = "cancelled", filled: int = 300, trades: list[tuple[int, int]] | None = None
) -> Operation:
    """A limit buy of 500 shares of which 300 filled in two parts (180.05 and 120.03 with
    fees) before the rest was cancelled."""
    order = op("order_buy", "ord-2", status, 0, debit=ALICE)
    order.quantity, order.filled_quantity, order.final_amount_minor = 500, filled, 300_08
    order.trades = [(200, 180_05), (100, 120_03)] if trades is None else trades
    return order


def with_order(order: Operation, order_lines: list[Line]) -> tuple[History, Observed]:
    h = history()
    h.add(order)
    moved = sum(line.amount_minor for line in order_lines)
    return h, observed(lines=[*lines(), *order_lines], balances={ALICE: (910_00 + moved, 0), BOB: (30_00, 0)})


PART_LINES = [Line(ALICE, "ord-2", -180_05), Line(ALICE, "ord-2", -120_03)]


def test_a_part_filled_order_then_cancelled_moved_what_its_fills_settled() -> None:
    assert part_filled_buy().done
    assert check(*with_order(part_filled_buy(), PART_LINES)) == []


def test_a_part_filled_cancel_whose_fills_moved_nothing_is_a_missing_effect() -> None:
    h, seen = with_order(part_filled_buy(), [])
    assert {"missing_effect", "balance_matches_model"} <= rules(check(h, seen))


def test_a_cancelled_order_with_nothing_filled_moves_nothing() -> None:
    untouched = part_filled_buy(filled=0, trades=[])
    assert not untouched.done
    assert check(*with_order(untouched, [])) == []
    assert "effect_of_unfinished_operation" in rules(check(*with_order(untouched, PART_LINES)))


@pytest.mark.parametrize(
    "trades",
    [
        [(200, 180_05)],  # a fill without its confirmation
        [(200, 180_05), (100, 120_03), (100, 120_03)],  # a confirmation twice
        [(200, 180_05), (100, 120_04)],  # a confirmation for another amount
    ],
)
def test_trade_confirmations_must_add_up_to_the_fills(trades: list[tuple[int, int]]) -> None:
    assert rules(check(*with_order(part_filled_buy(trades=trades), PART_LINES))) == {"trades_match_order"}


def test_a_filled_order_has_every_share_filled() -> None:
    short = part_filled_buy(status="filled")
    assert rules(check(*with_order(short, PART_LINES))) == {"order_filled_quantity"}
