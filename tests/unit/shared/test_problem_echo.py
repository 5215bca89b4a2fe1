"""A problem repeats a request's own text (its path, an id in the detail) only so far."""

from __future__ import annotations

import orjson

from shared.problems import ECHO_MAX, not_found, problem_response


def test_a_huge_id_is_not_echoed_back_in_full() -> None:
    huge = "a" * 60_000
    r = problem_response(not_found("account", huge), f"/v1/accounts/{huge}")
    body = orjson.loads(bytes(r.body))

    assert len(r.body) < 3 * ECHO_MAX
    assert body["detail"].startswith("account aaa") and body["detail"].endswith("…")
    assert body["instance"].startswith("/v1/accounts/aaa") and len(body["instance"]) == ECHO_MAX + 1


def test_an_ordinary_problem_is_unchanged() -> None:
    r = problem_response(not_found("account", "acc-1"), "/v1/accounts/acc-1")
    body = orjson.loads(bytes(r.body))

    assert (body["detail"], body["instance"]) == ("account acc-1 was not found", "/v1/accounts/acc-1")
