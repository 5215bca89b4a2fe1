"""Plain-number cursors and stream positions: ASCII digits inside the column's range, or
a 400 `invalid-cursor`; never an int() that raises or a number the database refuses."""

from __future__ import annotations

import base64

import pytest

from shared.pagination import MAX_SEQ, decode_seq, encode_seq, parse_position, parse_seq
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
