"""What the saga primitive tells about each saga as it moves: span events on the current
trace (shared/tracing.py) and Prometheus metrics in `SAGAS`, the Python process's one saga
registry (shared/metrics.py serves it). Called by `shared.saga.model.advance`, so every
saga kind of every service is instrumented here once; it imports no I/O library, as
the domain modules that import the model may not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared import tracing
from shared.commit_hooks import after_commit

# Seconds a saga took, from its start to its outcome: most end within a second, a timed
# out one after its steps' deadlines, a resting order at its trading session's end.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)

SAGAS = CollectorRegistry()
SAGA_DURATION = Histogram(
    "sandbank_saga_duration_seconds",
    "Sagas ended, by kind and outcome, and how long each took from its start (its _count: sagas ended)",
    ["kind", "outcome"],
    buckets=DURATION_BUCKETS,
    registry=SAGAS,
)
SAGA_COMMANDS = Counter(
    "sandbank_saga_commands",
    "Step commands sagas sent: a new step (`step`), the current one again (`retry`), or one sent "
    "besides without waiting on it (`compensation`)",
    ["kind", "step", "action"],
    registry=SAGAS,
)


# Each label set's counter and histogram, looked up once: `labels` takes a lock and
# checks its values on every call, and a transfer moves its saga three times.
_COMMANDS: dict[tuple[str, str, str], Counter] = {}
_DURATIONS: dict[tuple[str, str], Histogram] = {}


def _commands(kind: str, step: str, action: str) -> Counter:
    found = _COMMANDS.get((kind, step, action))
    if found is None:
        found = _COMMANDS[kind, step, action] = SAGA_COMMANDS.labels(kind, step, action)
    return found


def _duration(kind: str, outcome: str) -> Histogram:
    found = _DURATIONS.get((kind, outcome))
    if found is None:
        found = _DURATIONS[kind, outcome] = SAGA_DURATION.labels(kind, outcome)
    return found


def sent(saga: Any, step: str, action: str) -> None:
    # Counted when the row commits: a unit of work rolled back (and maybe applied again)
    # sent nothing. The span event stays: a trace shows every attempt.
    after_commit(_commands(saga.kind, step, action).inc)
    tracing.event(
        f"saga {action}",
        {"saga.id": saga.id, "saga.kind": saga.kind, "saga.step": step, "saga.attempt": saga.attempts},
    )


def ended(saga: Any, now: datetime) -> None:
    started: datetime | None = getattr(saga, "created_at", None)
    took = (now - started).total_seconds() if started is not None else 0.0
    histogram = _duration(saga.kind, saga.outcome)
    after_commit(lambda: histogram.observe(max(0.0, took)))
    tracing.event(
        "saga ended",
        {
            "saga.id": saga.id,
            "saga.kind": saga.kind,
            "saga.outcome": saga.outcome,
            "saga.reason": saga.reason,
            "saga.duration_s": round(took, 6),
        },
    )
