from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy import ColumnElement, String, insert

from shared.aio import within
from shared.clock import Clock
from shared.db import Database
from shared.events.envelope import Envelope, Message, UnknownMessageType, utcnow
from shared.events.topics import dlq
from shared.kafka import signing
from shared.kafka.doorbell import Doorbell, Listener
from shared.kafka.messaging import MessagingTables, UnitOfWork
from shared.kafka.signing import UntrustedSender
from shared.keys import Keyring
from shared.observability import correlation_id_var
from shared.tracing import TRACE_HEADERS, Tracing, headers_context

log = logging.getLogger(__name__)

C = TypeVar("C")
# The dead_letter and inbox tables keep message ids of up to this many characters.
MESSAGE_ID_MAX = 64
# After a rewind, partitions that rebalances assign within this long start from their
# beginning too.
REWIND_WINDOW_S = 30.0
# How often aiokafka's fetcher of a consumer with a doorbell wakes with nothing to do.
PAUSED_FETCHER_WAKE_MS = 5000
# A group member whose offset commits keep failing while the process's broker watch finds
# the broker there (this many in a row, the first at least RENEW_AFTER_S ago) is stuck:
# after two losses of the broker a few seconds apart, an aiokafka client was seen to apply
# messages for minutes while every commit and every end-offsets request went unanswered.
# Its client is closed and a new one opened (`ConsumerLoop.renew`). So is one whose fetch
# raised: aiokafka keeps an error of its heartbeat task (a write on a connection the lost
# broker closed: "unable to perform operation on <TCPTransport closed=True>") and raises
# it from every fetch and commit after, for good; the group member never fetches again.
RENEW_AFTER_FAILURES = 5
RENEW_AFTER_S = 15.0
# How long a stuck client may take to close before it is left behind (its background
# tasks cancelled, its connections closed), and a new one to bootstrap and join its group.
CLOSE_TIMEOUT_S = 3.0
OPEN_TIMEOUT_S = 30.0
# A fetch returns within its own wait (100 ms to a second), or a rebalance later (the
# group waits up to a session timeout for its members): one that has not returned in this
# long, or three session timeouts where that is longer, while the broker watch finds the
# broker there waits on a client that will not answer (aiokafka waits for a group
# assignment without a bound), and the client is renewed.
FETCH_STALL_S = 30.0


class Batch:
    """The working set of one transaction, handed to each of its handlers as an argument.

    A consumer that names a batch (`ConsumerSpec.batch`) gets one per transaction: it
    loads what the messages will touch in a few queries (`load`), the handlers read and
    change it in memory, and `write` stages what changed on the unit of work, one
    statement per table, before it commits. Nothing hides in the session: what a
    handler depends on is the batch it is given."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def load(self, messages: Sequence[Message]) -> None:
        """Prefetch what `messages` will touch (nothing, unless a service's batch says)."""

    async def write(self) -> None:
        """Stage what the handlers changed (nothing, unless a service's batch says)."""


# A message's handler: called with the consumer's batch, or the unit of work itself
# where the consumer has no batch of its own. It is registered under one message type and
# given exactly that type's message, so it may annotate the message as that class.
Handler = Callable[[Any, Envelope, Any], Awaitable[None]]
BatchFactory = Callable[[UnitOfWork], Batch]


def bind_handlers(
    ctx: C, reactions: Mapping[type[Message], Callable[[C, Any, Any], Awaitable[None]]]
) -> dict[str, Handler]:
    """Handlers by message type from use cases written as `fn(ctx, batch_or_uow, message)`."""

    def bind(fn: Callable[[C, Any, Any], Awaitable[None]]) -> Handler:
        async def handle(state: Any, _envelope: Envelope, message: Message) -> None:
            await fn(ctx, state, message)

        return handle

    return {message_type.TYPE: bind(fn) for message_type, fn in reactions.items()}


def bind_handlers_with_sender(
    ctx: C, reactions: Mapping[type[Message], Callable[[C, Any, Any, str], Awaitable[None]]]
) -> dict[str, Handler]:
    """As `bind_handlers`, for use cases that decide by who asked: `fn(ctx, batch_or_uow,
    message, sender)`, where `sender` is the message's verified signer (ConsumerLoop
    applies nothing whose source is not its signer)."""

    def bind(fn: Callable[[C, Any, Any, str], Awaitable[None]]) -> Handler:
        async def handle(state: Any, envelope: Envelope, message: Message) -> None:
            await fn(ctx, state, message, envelope.source)

        return handle

    return {message_type.TYPE: bind(fn) for message_type, fn in reactions.items()}


def one_line(error: ValidationError) -> str:
    """pydantic's reasons on one line. Its own text runs over several and ends with a link,
    and a dead letter shows operators its error's last line."""
    reasons = [f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in error.errors()[:5]]
    more = error.error_count() - len(reasons)
    return "; ".join(reasons) + (f"; and {more} more" if more > 0 else "")


class FetchStalled(Exception):
    """A group member's fetch did not return while the broker was there (`FETCH_STALL_S`)."""


class PoisonMessage(Exception):
    """A message that no retry will fix (undecodable, unknown type, invalid payload)."""


class ConsumerLoop:
    """Consumes `topics` in batches and applies each batch in one transaction.

    For a batch: decode, verify each message's sender (shared/kafka/signing.py), drop
    message ids the inbox has seen, run the handler of each new message, record the ids,
    commit, and only then commit the offsets. If the batch fails, its messages are retried
    one by one with backoff so one bad message cannot block the rest; a message that still
    fails goes to `<topic>.dlq` (through the outbox) with the error, in the same
    transaction that records it as handled. A message from an unproven or unentitled
    sender goes there at once, with the reason, and is never applied.
    """

    def __init__(
        self,
        *,
        name: str,
        db: Database,
        tables: MessagingTables,
        bootstrap_servers: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        source: str,
        keys: Keyring,
        max_batch: int = 500,
        max_attempts: int = 4,
        retry_backoff_ms: int = 50,
        session_timeout_ms: int = 2000,
        batch: BatchFactory | None = None,
        replies_for: str | None = None,
        fetch_max_wait_ms: int = 100,
        idle_fetch_max_wait_ms: int | None = None,
        idle_after_s: float = 10.0,
        commit_interval_s: float = 0.2,
        commit_timeout_s: float = 2.0,
        renew_after_failures: int = RENEW_AFTER_FAILURES,
        renew_after_s: float = RENEW_AFTER_S,
        fetch_stall_s: float | None = None,
        clock: Clock | None = None,
        tracing: Tracing | None = None,
        doorbell: Doorbell | None = None,
        carrier: ConsumerLoop | None = None,
        gather_s: float = 0.0,
    ) -> None:
        self.clock = clock
        # A loop on no request's path (AML monitoring) may gather the records its member
        # fetches for up to this long, or until it holds `max_batch`, and apply them in one
        # transaction: per transaction costs (the inbox's reads and writes, the commit, the
        # working set's load and write) are then paid once for many fetches. Its partitions'
        # offsets are committed only once it has applied them (`_apply_gathered`).
        self.gather_s = gather_s
        self._gathered: list[ConsumerRecord] = []
        self._gathered_since = 0.0
        # With a carrier, this loop has no group member of its own: the carrier's member
        # subscribes to its topics too and hands it their records (`carry`).
        self.carrier = carrier
        self.carried: list[ConsumerLoop] = []
        self._parts: dict[str, ConsumerLoop] = dict.fromkeys(topics, self)
        # With a doorbell (shared/kafka/doorbell.py), a consumer keeps its partitions paused
        # between looks and looks when a producer of the stack rings with messages past its
        # position: no fetch goes out while the stack is quiet, and none is left for the
        # embedded broker to hold while a message comes.
        # One taking only replies to its own service's commands listens for those alone.
        self.listener = (
            doorbell.listener(topics, replies_for=replies_for, types=handlers)
            if doorbell is not None and carrier is None
            else None
        )
        # A span per message handled, child of the context its headers carry.
        self.tracing = tracing if tracing is not None and tracing.enabled else None
        # Offsets are committed at most this often, not after every batch: a commit is a
        # broker round trip, and what a crash re-reads the inbox drops anyway.
        self.commit_interval_s = commit_interval_s
        self.commit_timeout_s = commit_timeout_s
        self.renew_after_failures = renew_after_failures
        self.renew_after_s = renew_after_s
        self.fetch_stall_s = (
            fetch_stall_s if fetch_stall_s is not None else max(FETCH_STALL_S, 3 * session_timeout_ms / 1000)
        )
        self._uncommitted: dict[Any, int] = {}
        self._committed_at = 0.0
        self.fetch_max_wait_ms = fetch_max_wait_ms
        # After `idle_after_s` without a message, fetches may wait longer (the embedded
        # broker holds a fetch for its whole wait even when a message arrives meanwhile, so
        # the first message after a quiet spell waits up to this long); back to
        # `fetch_max_wait_ms` with the first message. None: always `fetch_max_wait_ms`.
        self.idle_fetch_max_wait_ms = idle_fetch_max_wait_ms
        self.idle_after_s = idle_after_s
        self._last_message_at = time.monotonic()
        self.batch = batch
        # Take only the replies to this service's own commands (and facts nobody caused).
        self.replies_for = replies_for
        self.session_timeout_ms = session_timeout_ms
        self.name = name
        self.db = db
        self.tables = tables
        # The longest key a dead letter keeps: the shorter of its table's and the outbox's
        # key columns (the .dlq copy goes out through the outbox).
        self._key_max = min(_length(tables.dead_letter.c.key), _length(tables.outbox.c.key))
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.handlers = handlers
        self.source = source
        self.keys = keys
        self.max_batch = max_batch
        self.max_attempts = max_attempts
        self.retry_backoff_ms = retry_backoff_ms
        self.consumer: AIOKafkaConsumer | None = None
        self.running = False
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.untrusted = 0
        self.rewinds = 0
        # Clients closed and opened again because commits kept failing or a fetch raised (`renew`).
        self.renewals = 0
        # What the client raised from a fetch or a commit, beyond the errors a commit may
        # meet: the client is broken, and `run` renews it before it fetches again.
        self.broken: Exception | None = None
        # Offset commits failed in a row while the broker was there, and when the first did.
        self.commit_failures = 0
        self._failing_since: float | None = None
        # Whether the broker is there, as the process's broker watch last found it
        # (shared/runtime.py): commits that fail while it is away say nothing of the client.
        self.broker_ready: Callable[[], bool] = _always
        # Set while a stuck client is replaced: no group member is open meanwhile.
        self.renewing = False
        # Dead letters by the topic they came from, for /metrics.
        self.dead_letters_by_topic: dict[str, int] = {}
        # Called with the size of each batch taken from the broker (shared/metrics.py).
        self.observe_batch: Callable[[int], None] = _ignore
        # Called as each batch comes in: the process has work (shared.runtime.LoopWatch).
        self.working: Callable[[], None] = _nothing
        self._rewind_requested = False
        self._from_start = _FromStart(self)
        if carrier is not None:
            carrier.carry(self)

    def carry(self, part: ConsumerLoop) -> None:
        """Subscribe this loop's group member to `part`'s topics too, and hand it their
        records: one member, one heartbeat and one fetch for both, where each member of a
        group heartbeats every second all day long (ADR 0019, third amendment). `part`
        keeps its own handlers, working set, transaction and inbox (its name); the two
        share the group's offsets, this loop's doorbell listener and its fetch loop, so a
        batch of one waits for the other's. Called before `start`."""
        if self.consumer is not None:
            raise RuntimeError(f"{self.name} has started: it carries no more loops")
        if part.replies_for != self.replies_for:
            raise ValueError(f"{part.name} and {self.name} take different replies: one member cannot carry both")
        overlap = set(part.topics) & set(self._parts)
        if overlap:
            raise ValueError(f"{part.name} and {self.name} both consume {sorted(overlap)}")
        part.carrier = self
        self.carried.append(part)
        self._parts.update(dict.fromkeys(part.topics, part))
        if self.listener is not None:
            self.listener.listen_for(part.topics, part.handlers)
        part.listener = self.listener

    @property
    def group(self) -> str:
        """The consumer group whose member brings this loop its records."""
        return self.carrier.name if self.carrier is not None else self.name

    def _member(self) -> AIOKafkaConsumer | None:
        return self.carrier.consumer if self.carrier is not None else self.consumer

    @property
    def ready(self) -> bool:
        """Started and not stopped, with its group member open and working (not while it is
        broken, or while `renew` replaces it)."""
        member = self.carrier if self.carrier is not None else self
        return (
            self.running
            and member.running
            and not member.renewing
            and member.broken is None
            and member.consumer is not None
        )

    async def start(self) -> None:
        if self.carrier is None:
            self.consumer = self._open()
            await self.consumer.start()
        self.running = True

    def _open(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.name,
            client_id=f"{self.source}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            session_timeout_ms=self.session_timeout_ms,
            rebalance_timeout_ms=self.session_timeout_ms,
            # Every half session, not Kafka's customary third: each heartbeat is a request
            # the broker answers and a wake-up here, all day long (ADR 0019, the heartbeats).
            heartbeat_interval_ms=max(100, self.session_timeout_ms // 2),
            # aiokafka's fetcher also wakes this often when it has nothing to do: five
            # times a second for each paused consumer of a quiet stack. It waits on futures
            # for everything it reacts to (a resume, a fetch's answer, a rebalance, a
            # metadata update), so with a doorbell, where consumers sit paused, it sleeps.
            consumer_timeout_ms=PAUSED_FETCHER_WAKE_MS if self.listener is not None else 200,
        )
        consumer.subscribe(list(self._parts), listener=self._from_start)
        return consumer

    def rewind(self) -> None:
        """The broker came back without the messages it had (ADR 0013): read every
        partition again from its start. Done by `run` between two batches: each partition
        assigned now, and each one a rebalance assigns in the next `REWIND_WINDOW_S`, is
        sought to its beginning, whatever offset the group has committed there (the
        positions of the broker that was lost mean nothing on this one). The inbox drops
        what was applied already. A carried loop's partitions are its carrier's to rewind."""
        if self.carrier is not None:
            self.carrier.rewind()
            return
        self._rewind_requested = True
        self.wake()

    def wake(self) -> None:
        """Cut a wait for a ring short: the loop has work besides the broker's messages."""
        if self.listener is not None:
            self.listener.wake()

    def _rewind(self) -> None:
        self._rewind_requested = False
        self._uncommitted = {}
        self.drop_gathered()
        self._from_start.until = time.monotonic() + REWIND_WINDOW_S
        if self.consumer is not None:
            for tp in self.consumer.assignment():
                self.consumer.seek(tp, 0)
        if self.listener is not None:
            self.listener.forget()  # the lost broker's offsets: the new one starts again at 0
        for part in (self, *self.carried):
            part.rewinds += 1
            log.warning("consumer %s reads its topics again from the start on the new broker", part.name)

    async def stop(self) -> None:
        self.running = False
        if self.consumer is not None:  # a carried loop has none: its carrier stops the member
            try:
                await self._commit()
            finally:
                # Leaves the group (one request, bounded by aiokafka's request timeout).
                await self.consumer.stop()

    async def partition_lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, how far the group's committed offset (or, before its first
        commit, this consumer's position) stands behind the end offset. Asks the broker,
        and waits as long as aiokafka does: callers bound it (shared/metrics.py)."""
        consumer = self._member()
        if consumer is None and self.running:
            raise RuntimeError(f"{self.group} has no group member open: its client is being replaced")
        assigned = self._assigned(consumer)
        if consumer is None or not assigned:
            return {}
        ends = await consumer.end_offsets(assigned)
        # One request per partition: sent together, not one after another.
        committed = await asyncio.gather(*(consumer.committed(tp) for tp in assigned))
        # Before the first commit: the position, or the first record gathered and not applied.
        gathered = {(r.topic, r.partition): r.offset for r in reversed(self._gathered)}
        found = {}
        for tp, offset in zip(assigned, committed, strict=True):
            done = offset if offset is not None else await consumer.position(tp)
            if offset is None and (tp.topic, tp.partition) in gathered:
                done = min(done, gathered[(tp.topic, tp.partition)])
            found[(tp.topic, tp.partition)] = max(0, ends[tp] - done)
        return found

    async def lag(self) -> int:
        """Consumer lag from our own positions against the end offsets."""
        consumer = self._member()
        assigned = self._assigned(consumer)
        if consumer is None or not assigned:
            return 0
        ends = await consumer.end_offsets(assigned)
        total = 0
        for tp in assigned:
            position = await consumer.position(tp)
            total += max(0, ends[tp] - position)
        return total + len(self._gathered)  # read, not yet applied

    def _assigned(self, consumer: AIOKafkaConsumer | None) -> list[TopicPartition]:
        """The partitions of this loop's own topics the group member holds."""
        if consumer is None:
            return []
        return [tp for tp in consumer.assignment() if self._parts.get(tp.topic) is self]

    async def run(self) -> None:
        if self.consumer is None:
            if not self.renewing:
                raise RuntimeError("start() first")
            await self._reopen()  # a renewal whose new client did not start: again
        while True:
            if self._rewind_requested:
                self._rewind()
            if self.broken is not None or self._renew_due():
                await self.renew()
            consumer = self.consumer
            assert consumer is not None  # `renew` opened a new one, or raised
            try:
                if self.listener is not None:
                    fetch = self.listener.look(consumer, self.max_batch)
                else:
                    fetch = consumer.getmany(timeout_ms=1000, max_records=self.max_batch)
                batch = await within(fetch, self.fetch_stall_s)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                if not self.broker_ready():
                    continue  # the broker is away: the group forms again when it is back
                self.broken = FetchStalled(
                    f"a fetch did not return in {self.fetch_stall_s:g}s while the broker was there"
                )
                raise self.broken from None
            except Exception as exc:
                # Raised on our way out (the supervisor logs it and runs this loop again
                # after its backoff, which spaces out the renewals of a client that keeps
                # failing); the next run renews the client first.
                self.broken = exc
                raise
            if batch:
                await self._apply_fetched(batch)
            listener = self.listener
            if listener is not None:
                await self._rest(listener, consumer)
            elif not batch:
                await self._apply_gathered(everything=True)  # quiet now: nothing to gather with
                if self._uncommitted:
                    await self._commit()  # quiet now: nothing left for a restart to re-read
                if time.monotonic() - self._last_message_at >= self.idle_after_s:
                    self._fetch_wait(self.idle_fetch_max_wait_ms or self.fetch_max_wait_ms)

    async def _rest(self, listener: Listener, consumer: AIOKafkaConsumer) -> None:
        """Until a ring announces messages past what this member read (at once if one came
        meanwhile). Should none come soon: what a loop gathered is applied when it falls
        due, and the offsets are committed, so nothing is left for a restart to read again."""
        while True:
            await self._apply_gathered()
            wait = self._gathered_wait()
            if self._uncommitted:
                wait = self.commit_interval_s if wait is None else min(wait, self.commit_interval_s)
            if wait is None:
                await listener.wait(consumer)
                return
            if await listener.wait(consumer, timeout_s=wait):
                return
            if self._uncommitted and self._gathered_wait() != 0.0:
                await self._commit()

    async def _apply_fetched(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply a fetched batch, each loop's records in a transaction of its own (this
        loop's first), and note its offsets to commit."""
        assert self.consumer is not None
        self._last_message_at = time.monotonic()
        self._fetch_wait(self.fetch_max_wait_ms)
        try:
            for part, records in self._by_part(batch):
                if part.gather_s > 0:
                    part._gather(records)
                else:
                    await part.apply(records)
        except BaseException:
            # Our position is already past this batch: rewind, or the restart skips it.
            for tp, recs in batch.items():
                self.consumer.seek(tp, recs[0].offset)
            self._unread_gathered()
            raise
        self._uncommitted.update(
            {tp: recs[-1].offset + 1 for tp, recs in batch.items() if self._parts[tp.topic].gather_s <= 0}
        )
        await self._apply_gathered()
        if time.monotonic() - self._committed_at >= self.commit_interval_s:
            await self._commit()

    def _gather(self, records: list[ConsumerRecord]) -> None:
        if not self._gathered:
            self._gathered_since = time.monotonic()
        self._gathered.extend(records)

    def _gathered_wait(self) -> float | None:
        """How long until what this member's loops gathered is due (0.0: it is), or None
        when they hold nothing."""
        now = time.monotonic()
        waits = [
            0.0 if len(part._gathered) >= part.max_batch else max(0.0, part._gathered_since + part.gather_s - now)
            for part in (self, *self.carried)
            if part._gathered
        ]
        return min(waits) if waits else None

    async def _apply_gathered(self, *, everything: bool = False) -> None:
        """Apply what each loop of this member gathered once it is due (or `everything`),
        and only then note its offsets to commit."""
        now = time.monotonic()
        for part in (self, *self.carried):
            records = part._gathered
            if not records or not (
                everything or len(records) >= part.max_batch or now - part._gathered_since >= part.gather_s
            ):
                continue
            try:
                await part.apply(records)
            except BaseException:
                self._unread_gathered()
                raise
            part._gathered = []
            self._uncommitted.update({TopicPartition(r.topic, r.partition): r.offset + 1 for r in records})

    def _unread_gathered(self) -> None:
        """Seek back to the first record each loop of this member gathered, and drop them:
        the member reads them again (the inbox drops what a failed transaction did apply)."""
        for part in (self, *self.carried):
            first: dict[TopicPartition, int] = {}
            for r in part._gathered:
                first.setdefault(TopicPartition(r.topic, r.partition), r.offset)
            if self.consumer is not None:
                for tp, offset in first.items():
                    self.consumer.seek(tp, offset)
            part._gathered = []

    def drop_gathered(self, *, done: bool = False) -> None:
        """Forget what this member's loops gathered: the member reads on from the committed
        offsets (a renewal, a rebalance) or from the start (a rewind), which are before it.
        `done`: as if applied, its offsets to commit (a sandbox reset emptied the tables it
        was for)."""
        for part in (self, *self.carried):
            if done:
                self._uncommitted.update({TopicPartition(r.topic, r.partition): r.offset + 1 for r in part._gathered})
            part._gathered = []

    def _by_part(
        self, batch: Mapping[TopicPartition, list[ConsumerRecord]]
    ) -> list[tuple[ConsumerLoop, list[ConsumerRecord]]]:
        """A fetched batch's records by the loop that applies them (this one, or one it carries)."""
        parts: dict[ConsumerLoop, list[ConsumerRecord]] = {self: []}
        for tp, records in batch.items():
            parts.setdefault(self._parts[tp.topic], []).extend(records)
        return [(part, records) for part, records in parts.items() if records]

    def _fetch_wait(self, ms: int) -> None:
        """How long the broker may hold this consumer's next fetches."""
        fetcher = getattr(self.consumer, "_fetcher", None)
        if fetcher is not None and fetcher._fetch_max_wait_ms != ms:
            fetcher._fetch_max_wait_ms = ms

    async def _commit(self) -> None:
        offsets, self._uncommitted = self._uncommitted, {}
        self._committed_at = time.monotonic()
        if not offsets or self.consumer is None:
            return
        try:
            # aiokafka retries a commit for as long as the group has no coordinator: bounded,
            # so a lost coordinator cannot stall the loop or its shutdown.
            await within(self.consumer.commit(offsets), self.commit_timeout_s)
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # A rebalance took the partitions, or the coordinator is gone; whoever reads them
            # next re-reads and the inbox makes that a no-op.
            log.warning("offset commit failed (%r); messages will be re-read", exc)
            self._commit_failed()
        except Exception as exc:
            self.broken = exc  # as from a fetch (`run`): the client raises it from now on
            raise
        else:
            self.commit_failures, self._failing_since = 0, None

    def _commit_failed(self) -> None:
        if not self.broker_ready():
            # The broker is away or just back: failing is what commits do then. The count
            # starts once the watch finds it there.
            self.commit_failures, self._failing_since = 0, None
            return
        self.commit_failures += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        if self._renew_due():
            self.wake()  # a loop resting until a ring renews its client first

    def _renew_due(self) -> bool:
        return (
            self.commit_failures >= self.renew_after_failures
            and self._failing_since is not None
            and time.monotonic() - self._failing_since >= self.renew_after_s
        )

    async def renew(self) -> None:
        """Close this member's Kafka client and open a new one: it joins the group again
        and reads on from the group's committed offsets (what it applied since the last
        commit that got through is read again, and the inbox drops it). For a client whose
        commits keep failing while the broker is there, or that raised from a fetch or a
        commit (`broken`). Done by `run` between two batches; a carried loop's member is
        its carrier's."""
        if self.carrier is not None:
            await self.carrier.renew()
            return
        if isinstance(self.broken, FetchStalled):
            why = str(self.broken)
        elif self.broken is not None:
            why = f"its Kafka client raised {self.broken!r}"
        else:
            since = time.monotonic() - self._failing_since if self._failing_since is not None else 0.0
            why = f"{self.commit_failures} offset commits in a row failed over {since:.0f}s while the broker was there"
        log.warning(
            "consumer %s: %s; closing its Kafka client and opening a new one (it reads on from the "
            "committed offsets, and the inbox drops what it reads again)",
            self.name,
            why,
        )
        self.renewing = True
        old, self.consumer = self.consumer, None
        self._uncommitted = {}  # the new member starts from the committed offsets
        self.drop_gathered()
        self.commit_failures, self._failing_since = 0, None
        self.broken = None
        for part in (self, *self.carried):
            part.renewals += 1
        if old is not None:
            await _close(old, self.name)
        await self._reopen()

    async def _reopen(self) -> None:
        consumer = self._open()
        # Before it joins: a rebalance listener soon after a rewind seeks this one's partitions.
        self.consumer = consumer
        try:
            await within(consumer.start(), OPEN_TIMEOUT_S)
        except BaseException:
            self.consumer = None
            await _close(consumer, self.name)
            raise
        self.renewing = False
        self._committed_at = time.monotonic()
        log.warning("consumer %s: a new Kafka client joined its group", self.name)

    async def apply(self, records: list[ConsumerRecord]) -> None:
        self.working()
        self.observe_batch(len(records))
        decoded: list[tuple[ConsumerRecord, Envelope, Message]] = []
        poison: list[tuple[ConsumerRecord, str, str | None]] = []
        for record in records:
            # Producers put the message type in a header: skip what we don't handle
            # without parsing it (most of a busy topic, for most consumers).
            headers = dict(record.headers)
            header_type = headers.get("type")
            if header_type is not None and header_type.decode(errors="replace") not in self.handlers:
                continue
            cause = headers.get("causation-source")
            if (
                self.replies_for is not None
                and cause is not None
                and cause.decode(errors="replace") != self.replies_for
            ):
                continue  # a reply to another service's command
            envelope: Envelope | None = None
            try:
                envelope = Envelope.from_bytes(record.value)
                if envelope.type not in self.handlers:
                    continue
                # Only what this consumer would apply is verified: skipping costs nothing.
                signer = signing.verified_signer(self.keys, record.topic, record.key, record.value, headers)
                signing.check_sender(envelope, signer)
                decoded.append((record, envelope, envelope.message()))
            except UntrustedSender as exc:
                self.untrusted += 1
                # Listed by its id where the id fits the table (a forger picks its length).
                listed = envelope.id if envelope is not None and len(envelope.id) <= MESSAGE_ID_MAX else None
                poison.append((record, str(exc), listed))
            except ValidationError as exc:
                poison.append((record, f"undecodable message: {one_line(exc)}", None))
            except (ValueError, UnknownMessageType) as exc:
                poison.append((record, f"undecodable message: {exc}", None))
        if self.listener is not None and (decoded or poison):
            self.listener.took()
        if poison:
            # Not recorded in the inbox: an unproven message must not make its id look
            # applied, or a forger could have the real message with that id dropped.
            await self._dead_letter(poison)
        if not decoded:
            return
        try:
            await self._apply_batch(decoded)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("batch of %d failed; applying one by one", len(decoded), exc_info=True)
            for item in decoded:
                await self._apply_one_with_retries(item)

    async def _apply_batch(self, items: list[tuple[ConsumerRecord, Envelope, Message]], attempt: int = 0) -> None:
        async with UnitOfWork(self.db, self.tables, source=self.source, clock=self.clock) as uow:
            seen = await uow.seen(self.name, [e.id for _, e, _ in items])
            batch = self.batch(uow) if self.batch is not None else None
            if batch is not None:
                await batch.load([m for _, e, m in items if e.id not in seen])
            fresh: list[str] = []
            for record, envelope, message in items:
                if envelope.id in seen:
                    self.duplicates += 1
                    continue
                seen.add(envelope.id)
                if self.tracing is None:
                    await self._handle(uow, batch, envelope, message)
                else:
                    await self._handle_traced(uow, batch, record, envelope, message, len(items), attempt)
                fresh.append(envelope.id)
            if batch is not None:
                await batch.write()
            await uow.record_handled(self.name, fresh)
        self.applied += len(fresh)

    async def _handle_traced(
        self,
        uow: UnitOfWork,
        batch: Batch | None,
        record: ConsumerRecord,
        envelope: Envelope,
        message: Message,
        batch_size: int,
        attempt: int,
    ) -> None:
        """`_handle` under a span of the message's trace (its headers' traceparent)."""
        assert self.tracing is not None
        with self.tracing.span(
            f"{record.topic} process",
            parent=headers_context(record.headers),
            consumer=True,
            # Few attributes: each costs on every message (the topic is in the name).
            attributes={
                "messaging.consumer.group.name": self.group,
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": envelope.id,
                "sandbank.message.type": envelope.type,
            },
        ) as span:
            if span is not None and attempt:
                # A retry of the message alone, after its batch failed.
                span.set_attributes({"sandbank.attempt": attempt, "messaging.batch.message_count": batch_size})
            await self._handle(uow, batch, envelope, message)

    async def _handle(self, uow: UnitOfWork, batch: Batch | None, envelope: Envelope, message: Message) -> None:
        uow.causation = envelope
        token = correlation_id_var.set(envelope.correlation_id)
        try:
            await self.handlers[envelope.type](batch if batch is not None else uow, envelope, message)
        finally:
            correlation_id_var.reset(token)

    async def _apply_one_with_retries(self, item: tuple[ConsumerRecord, Envelope, Message]) -> None:
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                # Each try is a span of its own (attempt 1, 2 ...) under the message's trace.
                await self._apply_batch([item], attempt)
                return
            except asyncio.CancelledError:
                raise
            except UntrustedSender as exc:
                # A handler's finer rule refused its sender: no retry changes who sent it.
                self.untrusted += 1
                error = str(exc)
                break
            except Exception as exc:
                error = "".join(traceback.format_exception(exc))
                log.warning(
                    "message %s failed (attempt %d/%d): %s",
                    item[1].id,
                    attempt,
                    self.max_attempts,
                    exc,
                )
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_backoff_ms * 2 ** (attempt - 1) / 1000)
        await self._dead_letter([(item[0], error, item[1].id)], handled=True)

    async def _dead_letter(self, items: list[tuple[ConsumerRecord, str, str | None]], *, handled: bool = False) -> None:
        """Each (record, error, message id) to `<topic>.dlq` and the dead_letter table, in
        one transaction; `handled` also records the ids in the inbox."""
        async with UnitOfWork(self.db, self.tables, source=self.source, clock=self.clock) as uow:
            for record, error, message_id in items:
                with self._dead_letter_span(record, error):
                    await self._dead_letter_one(uow, record, error, message_id)
                self.dead_letters_by_topic[record.topic] = self.dead_letters_by_topic.get(record.topic, 0) + 1
            ids = [message_id for _, _, message_id in items if message_id]
            if handled and ids:
                await uow.record_handled(self.name, ids)
        self.dead_lettered += len(items)

    def _dead_letter_span(self, record: ConsumerRecord, error: str) -> Any:
        """A span for a dead letter in the trace of the message; the .dlq copy continues it."""
        if self.tracing is None:
            return contextlib.nullcontext()
        return self.tracing.span(
            f"{record.topic} dead-letter",
            parent=headers_context(record.headers),
            consumer=True,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group,
                "sandbank.error": (error.strip().splitlines() or [""])[-1][:300],
            },
        )

    async def _dead_letter_one(
        self, uow: UnitOfWork, record: ConsumerRecord, error: str, message_id: str | None
    ) -> None:
        # The sender picks the key: one longer than the tables keep (the outbox row
        # of the .dlq copy, the dead_letter row) is cut, or PostgreSQL refuses the
        # rows and the partition stalls on a forger's message.
        key = record.key.decode(errors="replace")[: self._key_max] if record.key else None
        log.error("dead-lettering %s from %s: %s", message_id, record.topic, error.splitlines()[-1:])
        headers = [[k, (v or b"").decode(errors="replace")] for k, v in record.headers]
        uow.publish_raw(
            dlq(record.topic),
            key,
            record.value or b"",
            # The copy is signed by this process; the sender's signature travels
            # beside it under another name.
            # Its trace context is the dead-letter span's, the current one.
            [[_RENAMED_ON_COPY.get(k, k), v] for k, v in headers if k not in TRACE_HEADERS]
            + [["error", error[-4000:]], ["consumer", self.name]],
        )
        await uow.session.execute(
            insert(self.tables.dead_letter).values(
                consumer=self.name,
                topic=record.topic,
                message_id=message_id,
                key=key,
                payload=record.value or b"",
                error=error,
                created_at=utcnow(),
                headers=headers,
            )
        )


class _FromStart(ConsumerRebalanceListener):
    """Seeks the partitions a rebalance assigns soon after a rewind to their beginning: the
    group's join after a broker loss may come just after the rewind. Wakes a loop waiting
    for a ring."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop
        self.until = 0.0

    async def on_partitions_revoked(self, revoked: object) -> None:
        # Whoever the partitions go to (this member again too) reads on from the committed
        # offsets, which are before anything gathered and not applied.
        self.loop.drop_gathered()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.loop.wake()  # new partitions, not paused: look at them now
        consumer = self.loop.consumer
        if consumer is not None and time.monotonic() < self.until:
            # Offset 0 is the start of a new broker's partition; where a durable broker's
            # retention has removed it, the fetch falls back to the earliest (auto reset).
            for tp in assigned:
                consumer.seek(tp, 0)


async def _close(consumer: AIOKafkaConsumer, name: str) -> None:
    """Stop a client that may be stuck: past CLOSE_TIMEOUT_S it is left behind, its
    background tasks cancelled and its connections closed (aiokafka's own `stop` waits for
    its coordination task, which a stuck client never ends)."""
    try:
        await within(consumer.stop(), CLOSE_TIMEOUT_S)
        return
    except TimeoutError:
        log.warning("consumer %s: its old Kafka client did not close in %.0fs; left behind", name, CLOSE_TIMEOUT_S)
    except Exception as exc:
        log.warning("consumer %s: closing its old Kafka client failed (%r)", name, exc)
    coordinator = getattr(consumer, "_coordinator", None)
    for attribute in ("_coordination_task", "_heartbeat_task", "_commit_refresh_task"):
        task = getattr(coordinator, attribute, None)
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()
    for part in (getattr(consumer, "_fetcher", None), getattr(consumer, "_client", None)):
        if part is not None:
            with contextlib.suppress(Exception):
                await within(part.close(), CLOSE_TIMEOUT_S)


def _always() -> bool:
    return True


def _ignore(_size: int) -> None:
    return None


def _nothing() -> None:
    return None


def _length(column: ColumnElement[Any]) -> int:
    assert isinstance(column.type, String) and column.type.length is not None, column
    return column.type.length


_RENAMED_ON_COPY = {
    signing.SIGNER: signing.ORIGINAL_SIGNER,
    signing.MACS: signing.ORIGINAL_MACS,
    signing.SIGNATURE: signing.ORIGINAL_SIGNATURE,
}
