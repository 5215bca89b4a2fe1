"""Plain-number cursors and stream positions: ASCII digits inside the column's range, or
a 400 `invalid-cursor`; never an int() that raises or a number the database refuses. Every
list's cursor, sequence or keyset: only that list's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table, select

from shared.pagination import MAX_SEQ, decode_seq, encode_seq, newest_first, next_keyset, parse_position, parse_seq
from shared.problems import Problem

JUNK = ["", " 1", "1 ", "+1", "-1", "1_0", "1.0", "0x10", "²", "٣", "\uff11\uff12", "1e3", "abc", "9" * 19, "9" * 20]


class Row(NamedTuple):
    created_at: datetime
    id: str


ROWS = [Row(datetime(2026, 1, 2, tzinfo=UTC), "b"), Row(datetime(2026, 1, 1, tzinfo=UTC), "a")]
TABLE = Table("payment", MetaData(), Column("id", String), Column("created_at", DateTime(timezone=True)))


@pytest.mark.parametrize("text", [*JUNK, "0", str(MAX_SEQ + 1), "99999999999999999"])
def test_a_cursor_that_is_not_an_id_of_ours_is_invalid(text: str) -> None:
    with pytest.raises(Problem) as refused:
        parse_seq(text)
    assert (refused.value.status, refused.value.slug) == (400, "invalid-cursor")


@pytest.mark.parametrize(("text", "seq"), [("1", 1), ("0042", 42), (str(MAX_SEQ), MAX_SEQ)])
def test_a_cursor_is_its_id(text: str, seq: int) -> None:
    assert parse_seq(text) == seq


@pytest.mark.parametrize("text", JUNK)
def test_a_position_that_is_not_a_number_is_invalid(text: str) -> None:
    with pytest.raises(Problem) as refused:
        parse_position(text, "bad")
    assert (refused.value.status, refused.value.slug, refused.value.detail) == (400, "invalid-cursor", "bad")


@pytest.mark.parametrize(("text", "position"), [("0", 0), ("7", 7), (str(MAX_SEQ + 1), MAX_SEQ), ("9" * 18, MAX_SEQ)])
def test_a_position_past_every_id_is_the_end(text: str, position: int) -> None:
    assert parse_position(text, "bad") == position


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("text", ["²", "٣", "9" * 20, str(MAX_SEQ + 1), ""])
def test_an_encoded_cursor_is_held_to_the_same_digits(text: str) -> None:
    with pytest.raises(Problem):
        decode_seq(encoded(f"orders|{text}"), of="orders")


def test_an_encoded_cursor_round_trips() -> None:
    assert decode_seq(encode_seq(5, of="orders"), of="orders") == 5
    assert decode_seq(None, of="orders") is None


@pytest.mark.parametrize(
    "cursor",
    [encode_seq(5, of="trades"), encoded("5"), encoded("order|5"), next_keyset([*ROWS], 1, of="orders")],
    ids=["another list's", "one from before lists were named", "a near name", "a keyset"],
)
def test_a_sequence_cursor_of_another_list_is_invalid(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        decode_seq(cursor, of="orders")
    assert (refused.value.status, refused.value.slug) == (400, "invalid-cursor")


def test_a_named_lists_cursor_resumes_after_its_last_row() -> None:
    cursor = next_keyset(ROWS, 1, of="payments")
    assert cursor is not None

    query = newest_first(select(TABLE), TABLE.c, cursor, 1, of="payments")

    # After (created_at, id) of the page's last row, one row more than the page.
    assert sorted(map(str, query.compile().params.values())) == sorted(map(str, [*ROWS[0], ROWS[0].created_at, 2]))


@pytest.mark.parametrize(
    "cursor",
    [
        next_keyset(ROWS, 1, of="payees"),
        next_keyset(ROWS, 1, of="schedules"),
        encoded(f"{ROWS[0].created_at.isoformat()}|{ROWS[0].id}"),
    ],
    ids=["payees'", "schedules'", "one from before lists were named"],
)
def test_a_cursor_of_another_list_is_invalid(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        newest_first(select(TABLE), TABLE.c, cursor, 1, of="payments")
    assert (refused.value.status, refused.value.slug) == (400, "invalid-cursor")


@pytest.mark.parametrize(
    "cursor",
    [
        encode_seq(5, of="payments"),
        "",
        "!!!",
        "cGF5bWVudHM",
        base64.urlsafe_b64encode(b"payments|0001-01-01T00:00:00+14:00|x").decode(),
        base64.urlsafe_b64encode(b"payments|9999-12-31T23:59:59-14:00|x").decode(),
        base64.urlsafe_b64encode(b"payments|2026-01-01T00:00:00+08:00|x").decode(),
        base64.urlsafe_b64encode(b"payments|2026-01-01T00:00:00|x").decode(),
        base64.urlsafe_b64encode(b"payments|2026-01-01T00:00:00+00:00|a|b").decode(),
    ],
    ids=[
        "a sequence of the same name",
        "empty",
        "junk",
        "only a name",
        "a time before year 1 in UTC",
        "a time past year 9999 in UTC",
        "a time we never write (not UTC)",
        "a time without a zone",
        "a keyset of three",
    ],
)
def test_a_named_list_refuses_what_is_no_keyset(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        newest_first(select(TABLE), TABLE.c, cursor, 1, of="payments")
    assert (refused.value.status, refused.value.slug) == (400, "invalid-cursor")
