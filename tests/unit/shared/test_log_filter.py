"""aiokafka's outage chatter is held to one line of a kind every few seconds."""

from __future__ import annotations

import logging

from shared.observability import EveryFewSeconds


def _record(msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_one_of_a_kind_passes_every_period_and_says_how_many_it_held(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    monkeypatch.setattr("shared.observability.time.monotonic", lambda: now[0])
    only = EveryFewSeconds(period_s=10)
    first = _record("Unable connect to node with id %s: %s", 111, "refused")
    assert only.filter(first) and first.getMessage() == "Unable connect to node with id 111: refused"
    assert not any(only.filter(_record("Unable connect to node with id %s: %s", 111, "refused")) for _ in range(30))
    assert only.filter(_record("Heartbeat failed", name="aiokafka.consumer")), "another kind is not held back"
    now[0] += 10
    later = _record("Unable connect to node with id %s: %s", 111, "refused")
    assert only.filter(later)
    assert later.getMessage() == "Unable connect to node with id 111: refused (30 like it in the last 10s not logged)"


def test_only_the_named_loggers_are_held_back() -> None:
    only = EveryFewSeconds(period_s=10, loggers="aiokafka")
    assert all(only.filter(_record("a payment failed", name="services.payments")) for _ in range(5))
    assert only.filter(_record("Unable connect")) and not only.filter(_record("Unable connect"))
