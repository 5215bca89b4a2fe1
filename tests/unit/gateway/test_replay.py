"""A replayed Idempotency-Key answers the first answer as it was, marked as a replay and
pointing at the resource, whose GET has its current state."""

from __future__ import annotations

import orjson

from gateway.routing.idempotency import _replay

PENDING = orjson.dumps({"id": "p-1", "status": "pending", "links": {"self": "/v1/payments/p-1"}})


def test_a_replay_keeps_the_first_answer_and_says_it_is_one() -> None:
    r = _replay(202, PENDING, {"content-type": "application/json", "location": "/v1/payments/p-1"})
    assert (r.status_code, r.body) == (202, PENDING)
    assert r.headers["idempotent-replayed"] == "true" and r.headers["location"] == "/v1/payments/p-1"


def test_an_answer_stored_without_a_location_gets_one_from_its_self_link() -> None:
    r = _replay(202, PENDING, {"content-type": "application/json"})
    assert r.headers["location"] == "/v1/payments/p-1"


def test_a_refusal_replayed_points_nowhere() -> None:
    r = _replay(422, b'{"type": "x", "links": {"self": "/v1/payments/p-1"}}', {})
    assert "location" not in r.headers and r.headers["idempotent-replayed"] == "true"


def test_a_body_that_is_not_an_object_is_replayed_as_it_is() -> None:
    r = _replay(200, b"[1, 2]", {})
    assert r.body == b"[1, 2]" and "location" not in r.headers
