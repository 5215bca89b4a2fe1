"""The saga primitive's pure half: one vocabulary for every saga in Sandbank.

A saga stands at one `step` at a time: the name of the command it sent and whose answer
it waits for (`reserve`, `capture`, `release`, `credit`, `transfer`, or `rest` for an
order waiting on the market). It has a deadline on the sandbox clock and counts the
`attempts` of its step. It ends with an `outcome` (`completed`, `failed`, `cancelled`,
...) and, when it did not complete, a `reason`.

Each saga kind's rules are a pure decider: given the saga and a fact from accounts (or
its deadline passing), it returns a `Decision`. Handlers load the saga, ask the decider
and carry the decision out in one unit of work: `advance` moves the row, and the
commands of the steps it returns go out through the outbox. Commands are idempotent by
the saga's business id, so re-sending a step is always safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.saga import observe

COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TIMED_OUT = "timed_out"


class Saga(Protocol):
    """What every saga row has, whatever it carries besides."""

    id: str
    kind: str
    step: str | None
    attempts: int
    deadline_at: datetime | None
    outcome: str | None
    reason: str | None
    detail: str | None
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What a saga does next.

    - `step`: move to this step and send its command (its attempts start again at 1);
    - `retry`: send the current step's command again (one more attempt);
    - `outcome`: end the saga (no step, no deadline);
    - `send`: commands to send besides, without waiting on them (a compensation for a
      fact that arrived after the saga ended: release a hold that landed late);
    - `deadline`: when the new step's wait ends, where that is not the step timeout (an
      order resting on the market waits until its trading session ends);
    - `reason`, `detail`: why the saga is failing, kept on the row.

    An empty decision changes nothing: the fact was a duplicate, or late."""

    step: str | None = None
    retry: bool = False
    outcome: str | None = None
    send: tuple[str, ...] = ()
    deadline: datetime | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def ignored(self) -> bool:
        return self is IGNORE or self == IGNORE


IGNORE = Decision()


def move(
    step: str, reason: str | None = None, detail: str | None = None, *, deadline: datetime | None = None
) -> Decision:
    return Decision(step=step, reason=reason, detail=detail, deadline=deadline)


def end(outcome: str, reason: str | None = None, detail: str | None = None) -> Decision:
    return Decision(outcome=outcome, reason=reason, detail=detail)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long a step waits for its answer, and how often it is sent before giving up.
    Each re-send waits a little longer, up to `backoff_cap` steps."""

    step: timedelta = timedelta(seconds=5)
    max_attempts: int = 6
    backoff_cap: int = 4

    def deadline(self, now: datetime, attempt: int) -> datetime:
        steps = attempt if attempt < self.backoff_cap else self.backoff_cap
        return now + self.step * (steps if steps > 1 else 1)


def on_deadline(saga: Saga, timeouts: Timeouts, give_up: Decision) -> Decision:
    """A step heard nothing by its deadline: send it again, until it has been sent
    `max_attempts` times; then `give_up`, which is each kind's own decision (release
    what is held, end as failed, or keep trying where stopping would lose money)."""
    if saga.outcome is not None or saga.step is None:
        return IGNORE
    if saga.attempts < timeouts.max_attempts:
        return Decision(retry=True)
    return give_up


def begin(saga: Saga, step: str, now: datetime, timeouts: Timeouts) -> tuple[str, ...]:
    """Put a new saga (no step yet, no attempt) at its first step, as `advance` puts it at
    every later one: the first step's command is counted and shows on the trace like the
    others. Returns the step whose command is to be sent."""
    return advance(saga, move(step), now, timeouts)


def advance(saga: Saga, decision: Decision, now: datetime, timeouts: Timeouts) -> tuple[str, ...]:
    """Carry a decision onto the saga's row: its step, attempts, deadline, outcome and
    reason. Returns the steps whose commands are to be sent now, in order (a step that
    waits on no command, such as `rest`, is returned too and sends nothing).

    Each column is written once at most: on the hot path a row is an ORM object, and every
    attribute set is instrumented."""
    if decision.reason is not None:
        saga.reason = decision.reason
        saga.detail = None if decision.detail is None else decision.detail[:300]
    sending = decision.send
    for step in decision.send:
        observe.sent(saga, step, "compensation")
    if decision.retry and saga.step is not None:
        attempts = saga.attempts + 1
        saga.attempts = attempts
        saga.deadline_at = timeouts.deadline(now, attempts)
        sending += (saga.step,)
        observe.sent(saga, saga.step, "retry")
    if decision.step is not None:
        saga.step = decision.step
        saga.attempts = 1
        saga.deadline_at = decision.deadline or timeouts.deadline(now, 1)
        sending += (decision.step,)
        observe.sent(saga, decision.step, "step")
    if decision.outcome is not None:
        saga.step = None
        saga.deadline_at = None
        saga.outcome = decision.outcome
        saga.ended_at = now
        if decision.outcome == COMPLETED and saga.reason is not None:
            saga.reason = saga.detail = None
        observe.ended(saga, now)
    if sending or decision.outcome is not None or decision.reason is not None:
        saga.updated_at = now
    return sending
