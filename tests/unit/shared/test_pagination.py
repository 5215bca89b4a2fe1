"""Plain-number cursors and stream positions: ASCII digits inside the column's range, or
a 400 `invalid-cursor`; never an int() that raises or a number the database refuses. Keyset
cursors of a named list: only that list's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table, select

from shared.pagination import MAX_SEQ, decode_seq, encode_seq, newest_first, next_keyset, parse_position, parse_seq
from shared.problems import Problem

JUNK = ["", " 1", "1 ", "+1", "-1", "1_0", "1.0", "0x10", "²", "٣", "\uff11\uff12", "1e3", "abc", "9" * 19, "9" * 20]


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


@pytest.mark.parametrize("text", ["²", "٣", "9" * 20, str(MAX_SEQ + 1)])
def test_an_encoded_cursor_is_held_to_the_same_digits(text: str) -> None:
    cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    with pytest.raises(Problem):
        decode_seq(cursor)


def test_an_encoded_cursor_round_trips() -> None:
    assert decode_seq(encode_seq(5)) == 5


class Row(NamedTuple):
    created_at: datetime
    id: str


ROWS = [Row(datetime(2026, 1, 2, tzinfo=UTC), "b"), Row(datetime(2026, 1, 1, tzinfo=UTC), "a")]
TABLE = Table("payment", MetaData(), Column("id", String), Column("created_at", DateTime(timezone=True)))


def test_a_named_lists_cursor_resumes_after_its_last_row() -> None:
    cursor = next_keyset(ROWS, 1, of="payments")
    assert cursor is not None

    query = newest_first(select(TABLE), TABLE.c, cursor, 1, of="payments")

    # After (created_at, id) of the page's last row, one row more than the page.
    assert sorted(map(str, query.compile().params.values())) == sorted(map(str, [*ROWS[0], ROWS[0].created_at, 2]))


@pytest.mark.parametrize(
    ("issued_by", "read_by"),
    [("payees", "payments"), (None, "payments"), ("payments", None)],
    ids=["another list's", "an unnamed list's in a named one", "a named list's in an unnamed one"],
)
def test_a_cursor_of_another_list_is_invalid(issued_by: str | None, read_by: str | None) -> None:
    cursor = next_keyset(ROWS, 1, of=issued_by)
    assert cursor is not None

    with pytest.raises(Problem) as refused:
        newest_first(select(TABLE), TABLE.c, cursor, 1, of=read_by)
    assert (refused.value.status, refused.value.slug) == (400, "invalid-cursor")


@pytest.mark.parametrize(
    "cursor", [encode_seq(5), "", "!!!", "cGF5bWVudHM"], ids=["a sequence", "empty", "junk", "only a name"]
)
def test_a_named_list_refuses_what_is_no_keyset(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        newest_first(select(TABLE), TABLE.c, cursor, 1, of="payments")
    assert (refused.value.status, refused.value.slug) == (400, "invalid-cursor")
