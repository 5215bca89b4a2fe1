"""JSON request bodies as every Sandbank app reads them (shared/bodies.py): UTF-8, each
object's names unique at any depth, and otherwise what json.loads reads, as FastAPI's own
parsing reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import bodies
from shared.bodies import NOT_UTF8, MalformedJson

TRANSFER = b'{"payer_account_id": "a-1", "payee_account_id": "a-2", "amount": "1.00"}'


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(b'{"amount": "1.00", "amount": "9000.00"}', 'names "amount" twice', id="a name twice"),
        pytest.param(b'{"payee": {"id": "a", "id": "b"}}', 'names "id" twice', id="twice in a nested object"),
        pytest.param(b'{"items": [{"kind": "x"}, {"kind": "x", "kind": "y"}]}', '"kind" twice', id="in an array"),
        pytest.param(b'{"note": "at 12:00", "a": 1, "a": 2}', 'names "a" twice', id="beside a colon in a string"),
        pytest.param(b'{"a": 1, "\\u0061": 2}', 'names "a" twice', id="once escaped"),
        pytest.param(b'{"note": "caf\xe9"}', NOT_UTF8, id="Latin-1"),
        pytest.param(b'{"note": "\xff"}', NOT_UTF8, id="a byte UTF-8 never has"),
        pytest.param(b'{"note": "\xe4\xbd"}', NOT_UTF8, id="a character cut short"),
        pytest.param('{"a": 1}'.encode("utf-16"), NOT_UTF8, id="UTF-16 with its byte order mark"),
        pytest.param('{"a": 1}'.encode("utf-16-le"), NOT_UTF8, id="UTF-16 without one"),
        pytest.param('{"a": "李"}'.encode("utf-32"), NOT_UTF8, id="UTF-32"),
        pytest.param(b'{"amount": ', "not valid JSON: Expecting value", id="cut short"),
        pytest.param(b"amount=1.00", "not valid JSON", id="a form"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "nests too deeply", id="too deep for Python"),
    ],
)
def test_a_body_is_refused_with_what_is_wrong(body: bytes, detail: str) -> None:
    with pytest.raises(MalformedJson) as refused:
        bodies.loads(body)

    assert detail in refused.value.detail


@pytest.mark.parametrize(
    ("body", "value"),
    [
        pytest.param(TRANSFER, json.loads(TRANSFER), id="a transfer"),
        pytest.param(
            b'{"note": "due 12:30, ref: A:B:C", "n": 1}', {"note": "due 12:30, ref: A:B:C", "n": 1}, id="colons"
        ),
        pytest.param(b'{"a": "x\\u003a"}', {"a": "x:"}, id="an escaped colon"),
        pytest.param(b'[{"a": 1}, {"a": 2}]', [{"a": 1}, {"a": 2}], id="one name in two objects"),
        pytest.param(b'{"a": {"a": {"a": 1}}}', {"a": {"a": {"a": 1}}}, id="one name at three depths"),
        pytest.param('{"name": "李伟 🍜"}'.encode(), {"name": "李伟 🍜"}, id="UTF-8 beyond ASCII"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}', {"a": 1}, id="UTF-8 with a byte order mark, as json.loads"),
        pytest.param(b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}, id="a big int"),
        pytest.param(b'"at 12:00"', "at 12:00", id="a string"),
        pytest.param(b"[]", [], id="an empty array"),
    ],
)
def test_a_body_with_unique_names_in_utf8_is_read_as_json_loads_reads_it(body: bytes, value: Any) -> None:
    assert bodies.loads(body) == value == json.loads(body)
    bodies.check_parsed(body, json.loads(body))  # as FastAPI parsed it


def test_a_repeated_name_is_refused_in_a_body_fastapi_parsed() -> None:
    body = b'{"amount": "1.00", "amount": "9000.00"}'
    with pytest.raises(MalformedJson, match='"amount" twice'):
        bodies.check_parsed(body, json.loads(body))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_json_with_unique_names_is_read_back(value: Any) -> None:
    for body in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        assert bodies.loads(body) == value


@given(st.dictionaries(st.text(max_size=6), JSON_VALUES, min_size=1, max_size=4), st.data())
def test_any_object_with_a_name_sent_twice_is_refused(value: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(value)))
    body = json.dumps(value)[:-1] + f", {json.dumps(name)}: null}}"
    with pytest.raises(MalformedJson, match="twice"):
        bodies.loads(body.encode())


@pytest.mark.parametrize(
    ("content_type", "json_"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON ; charset=UTF-8", True),
        ('application/json;charset="utf-8"', True),
        ("application/json; charset=utf8", True),
        ("application/merge-patch+json", False),
        ("application/vnd.api+json", False),
        ("application/json; charset=latin-1", False),
        ("application/json; charset=utf-16", False),
        ("text/plain", False),
        ("text/plain; charset=utf-8", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/jsonp", False),
        ("", False),
        (None, False),
    ],
)
def test_a_content_type_names_json_or_not(content_type: str | None, json_: bool) -> None:
    assert bodies.is_json(content_type) is json_
