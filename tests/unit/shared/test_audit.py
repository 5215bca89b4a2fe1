"""The audit trail's hash chain (shared/audit.py): rows appended in order verify; a
changed row breaks the chain at that row; a deleted row breaks it at the next one, or at
the head when it was the last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.audit import GENESIS, AuditEntry, Cursor, check_chain, entry_hash, merge

T0 = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def chain(n: int) -> tuple[list[dict[str, Any]], tuple[int, str]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        fields: dict[str, Any] = {
            "seq": seq,
            "at": T0 + timedelta(seconds=seq),
            "service": "accounts",
            "actor": "operator:op-1",
            "action": "account.frozen",
            "subject_kind": "account",
            "subject_id": f"acc-{seq}",
            "customer_id": "cust-1",
            "account_id": f"acc-{seq}",
            "before": None,
            "after": {"mode": "full", "reason": "court order", "amount": "12.50"},
            "request_id": f"req-{seq}",
            "correlation_id": f"req-{seq}",
        }
        digest = entry_hash(prev, fields)
        rows.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows, (n, prev)


def test_an_untouched_chain_verifies() -> None:
    rows, head = chain(5)
    check = check_chain("accounts", rows, head)
    assert check.ok and check.rows_checked == 5 and check.broken is None


def test_an_empty_chain_verifies() -> None:
    assert check_chain("payments", [], None).ok


@pytest.mark.parametrize(
    ("field", "value"),
    [("actor", "operator:someone-else"), ("after", {"mode": "outflows"}), ("at", T0), ("request_id", None)],
)
def test_a_changed_row_breaks_the_chain_at_that_row(field: str, value: Any) -> None:
    rows, head = chain(5)
    rows[2][field] = value
    check = check_chain("accounts", rows, head)
    assert not check.ok and check.broken is not None
    assert check.broken.seq == 3 and "content" in check.broken.reason


def test_a_row_rehashed_after_a_change_breaks_the_next_row() -> None:
    rows, head = chain(5)
    rows[1]["actor"] = "operator:someone-else"
    rows[1]["hash"] = entry_hash(rows[1]["prev_hash"], rows[1])
    check = check_chain("accounts", rows, head)
    assert check.broken is not None and check.broken.seq == 3


def test_a_deleted_row_breaks_the_chain_at_the_next_row() -> None:
    rows, head = chain(5)
    del rows[1]
    check = check_chain("accounts", rows, head)
    assert check.broken is not None and check.broken.seq == 3 and "missing" in check.broken.reason


def test_deleting_the_last_row_is_caught_by_the_head() -> None:
    rows, head = chain(5)
    check = check_chain("accounts", rows[:-1], head)
    assert not check.ok and check.broken is not None and check.broken.seq is None


def test_renumbered_rows_after_a_deletion_still_break() -> None:
    rows, head = chain(4)
    del rows[1]
    for i, row in enumerate(rows, start=1):
        row["seq"] = i
    check = check_chain("accounts", rows, head)
    assert check.broken is not None and check.broken.seq == 2


def test_the_hash_does_not_depend_on_key_order_or_zone() -> None:
    rows, _ = chain(1)
    row = rows[0]
    shuffled = dict(reversed(list(row.items())))
    shuffled["after"] = dict(reversed(list(row["after"].items())))
    shuffled["at"] = row["at"].astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert entry_hash(GENESIS, shuffled) == row["hash"]


def entry(service: str, seq: int, second: int) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        at=T0 + timedelta(seconds=second),
        service=service,
        actor="system:payments",
        action="saga.started",
        prev_hash=GENESIS,
        hash=GENESIS,
    )


def test_pages_of_several_processes_merge_by_time_with_a_cursor_when_more_may_follow() -> None:
    gateway = [entry("gateway", 1, 1), entry("gateway", 2, 3)]
    payments = [entry("payments", 7, 2), entry("payments", 8, 3)]
    kept, cursor = merge([gateway, payments], limit=3)
    assert [(e.service, e.seq) for e in kept] == [("gateway", 1), ("payments", 7), ("gateway", 2)]
    assert cursor == Cursor(T0 + timedelta(seconds=3), "gateway", 2)
    assert Cursor.decode(cursor.encode()) == cursor
    assert merge([gateway, payments], limit=10)[1] is None


@pytest.mark.parametrize("text", ["", "garbage", "bm90fGF8Y3Vyc29y", "MjAyNS0wNi0wMlQwOTozMHxhfDE"])
def test_a_cursor_the_trail_did_not_give_out_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Cursor.decode(text)
