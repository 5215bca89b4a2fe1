"""A doorbell between the processes of one stack on one machine: "there is something new
on these topics", so an idle consumer fetches at once instead of polling the broker.

Why: the embedded broker (Tansu) holds every fetch for its whole `fetch_max_wait_ms`,
even when a message arrives meanwhile, and answers an empty fetch only when that wait
ends. A consumer that polls every 100 ms costs the broker and itself CPU all day long
(an idle stack of twenty consumers sent 200 fetches a second), and each hop of a saga
waited 50 ms on average for the poll to come round.

With a doorbell, a consumer fetches only what a ring announced: after each look it
pauses its partitions (no fetch of aiokafka's own is left for the broker to hold) and
waits for a ring naming a partition it holds and an offset past its position there; the
producer rings after the broker acknowledged what it sent, so the fetch that follows
finds the messages at once. While rings keep coming it looks at most every `LOOK_GAP_S`,
and what came meanwhile is the next batch. A ring is one UDP datagram to each process of
the stack on 127.0.0.1, listing the topics, partitions and end offsets. Rings are hints,
never the only way in: a consumer still looks after `SAFETY_S` without one (messages sent
by a tool outside the stack, a lost datagram), so nothing is lost and the worst case is a
poll, slower.

A reply names the service whose command caused it (`topic>service` in the ring). A
consumer that takes only the replies to its own service's commands (securities and
insurance on `accounts.events`, where nearly every message answers payments) is woken by
its own replies and by messages nobody caused, and counts only what it applies as a
message: on a busy topic that is all someone else's, it pauses as on a quiet one, rather
than fetching and committing the others' messages a dozen times a second.

A ring names the types of the messages too (`#type`), and a consumer is woken only by the
types it handles: the gateway's notifications read `accounts.events` for a frozen account
or a KYC decision, not for the two or three holds and captures of every payment. What it
does not handle it reads when a look comes for something else, or at the safety look.

Each process binds a port of its own and announces it as a file `<pid>.<port>` in the
stack's doorbell directory (the launcher gives the directory when it runs the embedded
broker; with Apache Kafka, which answers a fetch as soon as a message arrives, there is
none and consumers poll as before).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.aio import within
from shared.processes import alive

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# How often the list of the stack's processes is read again from the directory.
PEERS_EVERY_S = 1.0
# How long one look at the broker may take before a consumer pauses and waits for a ring,
# and how long it waits at most, growing from the first figure to the second while nothing
# comes (what no ring announced, a tool outside the stack sent, is found by then).
LOOK_MS = 60
SAFETY_S = (0.25, 5.0)
# While rings keep coming, a consumer looks at most this often: what is sent meanwhile
# joins the next batch. A look is a fetch the broker answers (the embedded broker lists
# every batch a partition keeps to answer one) and a transaction here; at 50 transfers a
# second, one look a ring cost the stack half as much CPU again. A ring after a quiet spell
# is looked at once.
LOOK_GAP_S = 0.01

# What a ring announces, per entry: (topic, the service whose command the messages answer
# or None, the messages' type or None, partition, the offset past the last message there);
# partition and offset None where the sender did not know them (look whatever the positions).
Sent = tuple[str, str | None, str | None, int | None, int | None]


def _entry(topic: str, cause: str | None, kind: str | None, partition: int | None, end: int | None) -> str:
    """One line of a ring: `topic[/partition@end][>cause][#type]`."""
    where = f"/{partition}@{end}" if partition is not None and end is not None else ""
    return f"{topic}{where}{f'>{cause}' if cause else ''}{f'#{kind}' if kind else ''}"


def _parse(entry: str) -> Sent:
    head, _, kind = entry.partition("#")
    head, _, cause = head.partition(">")
    topic, _, where = head.partition("/")
    partition, _, end = where.partition("@")
    if partition.isdigit() and end.isdigit():
        return topic, cause or None, kind or None, int(partition), int(end)
    return topic, cause or None, kind or None, None, None


class Doorbell:
    def __init__(self, directory: str | Path, *, name: str = "") -> None:
        self.directory = Path(directory)
        self.name = name
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._announced: Path | None = None
        self._peers: list[int] = []
        self._peers_read_at = -PEERS_EVERY_S
        self._listeners: list[Listener] = []
        self.rings_sent = 0
        self.rings_heard = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Ear(self), local_addr=(HOST, 0))
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}.{self.port}"
        path.touch()
        self._announced = path
        log.info("doorbell %s listening on %s:%d", self.name, HOST, self.port)

    def close(self) -> None:
        if self._announced is not None:
            self._announced.unlink(missing_ok=True)
            self._announced = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def listener(
        self, topics: Iterable[str], *, replies_for: str | None = None, types: Iterable[str] | None = None
    ) -> Listener:
        """A consumer's ear for rings naming one of `topics`; with `replies_for`, only for
        the replies to that service's commands and messages nobody caused; with `types`,
        only for messages of those types (and those whose type the ring did not name)."""
        listener = Listener(topics, replies_for=replies_for, types=types)
        self._listeners.append(listener)
        return listener

    def ring(self, sent: Iterable[Sent]) -> None:
        """Tell every process of the stack (this one too) that topics have new messages:
        `sent` holds (topic, the service whose command the message answers or None, the
        message's type or None, the partition, the offset past the last message sent
        there), the partition and offset None where unknown. One entry goes out per
        partition, cause and type, with its highest end."""
        if self._transport is None:
            return
        ends: dict[tuple[str, str | None, str | None, int | None], int | None] = {}
        for topic, cause, kind, partition, end in sent:
            key = (topic, cause, kind, partition if end is not None else None)
            known = ends.get(key, -1)
            ends[key] = None if end is None or known is None else max(known, end)
        message = "\n".join(sorted(_entry(*key, end) for key, end in ends.items()))
        if not message:
            return
        data = message.encode()
        for port in self._peer_ports():
            self._transport.sendto(data, (HOST, port))
        self.rings_sent += 1

    def heard(self, message: bytes) -> None:
        self.rings_heard += 1
        sent = [_parse(entry) for entry in message.decode(errors="replace").split("\n")]
        for listener in self._listeners:
            listener.heard(sent)

    def _peer_ports(self) -> list[int]:
        now = time.monotonic()
        if now - self._peers_read_at >= PEERS_EVERY_S:
            self._peers_read_at = now
            self._peers = self._read_peers()
        return self._peers

    def _read_peers(self) -> list[int]:
        ports = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.directory):
                pid, _, port = entry.name.partition(".")
                if not (pid.isdigit() and port.isdigit()):
                    continue
                if not alive(int(pid)):
                    # A process killed without closing its doorbell: forget it.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                    continue
                ports.append(int(port))
        return ports


class Listener:
    """How one aiokafka consumer waits: it fetches only what a ring announced.

    `look` resumes the partitions, takes what the broker has, and pauses them again before
    the batch is applied, so that aiokafka sends no fetch of its own meanwhile: on the
    embedded broker that fetch would be held for its whole wait, and a message sent while
    it is held would wait for it too (50 ms a hop on average at 100 ms, under any load).
    `wait` returns as soon as a ring has announced messages past this consumer's position
    on a partition it holds (`due`), at once if one came while the batch was applied; a
    ring for messages it has already read, or for another member's partitions, does not
    bring it back. Under load the batches gather themselves: what was sent while one batch
    was applied is the next. A `wake`, and the safety interval without a ring, bring a look
    too.

    With `replies_for`, a look's records are not yet messages for it: the consumer says
    which were (`took`). With `types`, a ring for messages of other types does not bring it
    back: it reads them with the next look that comes for its own, or at the safety look."""

    def __init__(
        self, topics: Iterable[str], *, replies_for: str | None = None, types: Iterable[str] | None = None
    ) -> None:
        self.topics = frozenset(topics)
        self.replies_for = replies_for
        self.types = None if types is None else frozenset(types)
        self._event = asyncio.Event()
        # The end offset each ring announced, by partition; a look is due while one is
        # past the consumer's position. `_now`: look whatever the positions (a wake, a ring
        # that named no partition).
        self._announced: dict[tuple[str, int], int] = {}
        self._now = False
        # The last look left messages unread on a partition it fetched: the next is due.
        self._more = False
        self._paused = False
        self._looked_at = -LOOK_GAP_S
        self._safety_s = SAFETY_S[0]
        self.woken = 0

    async def look(self, consumer: AIOKafkaConsumer, max_records: int) -> dict[Any, list[Any]]:
        self._now = False
        if self._paused:
            self._paused = False
            consumer.resume(*consumer.assignment())
        batch: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=LOOK_MS, max_records=max_records)
        # Before anything else runs: aiokafka's fetcher would send the next fetch as soon as
        # it is scheduled, and the broker would hold it for its whole wait.
        consumer.pause(*consumer.assignment())
        self._paused = True
        self._looked_at = time.monotonic()
        # The broker told of more than this look took (a backlog from before the consumer
        # started, rings lost with a broker, others' messages a consumer of its replies let
        # pile up): the next look comes without a ring, a gap later, not one batch a safety
        # interval (each doubling while the look brought nothing of its own).
        self._more = _behind(consumer, batch)
        if batch and self.replies_for is None:
            self.took()
        return batch

    def listen_for(self, topics: Iterable[str], types: Iterable[str] | None = None) -> None:
        """Hear rings for `topics` too, and `types` (None: every type): the consumer's group
        member carries another loop's."""
        self.topics = self.topics | frozenset(topics)
        if self.types is not None:
            self.types = None if types is None else self.types | frozenset(types)

    def _wants(self, entry: Sent) -> bool:
        topic, cause, kind = entry[0], entry[1], entry[2]
        return (
            topic in self.topics
            and (self.replies_for is None or not cause or cause == self.replies_for)
            and (self.types is None or kind is None or kind in self.types)
        )

    def heard(self, sent: list[Sent]) -> None:
        """Note what a ring announced for this consumer, and wake its wait if anything."""
        rung = False
        announced = self._announced
        for entry in sent:
            if not self._wants(entry):
                continue
            rung = True
            topic, _cause, _kind, partition, end = entry
            if partition is None or end is None:
                self._now = True
            elif end > announced.get((topic, partition), -1):
                announced[(topic, partition)] = end
        if rung:
            self._event.set()

    def took(self) -> None:
        """A message for this consumer came: the safety look comes soon again."""
        self._safety_s = SAFETY_S[0]

    def due(self, consumer: AIOKafkaConsumer) -> bool:
        """Whether a look would find what a ring announced: messages past the consumer's
        position on a partition it holds (or a wake, or messages the last look left).
        Announcements it has read past, or for partitions it does not hold, are forgotten."""
        if self._now or self._more:
            return True
        if not self._announced:
            return False
        held = consumer.assignment()
        for tp, end in list(self._announced.items()):
            partition = TopicPartition(*tp)
            if partition in held:
                position = _position(consumer, partition)
                if position is None or end > position:
                    return True
            del self._announced[tp]
        return False

    async def wait(self, consumer: AIOKafkaConsumer, timeout_s: float | None = None) -> bool:
        """Until a look is `due` (True), or `timeout_s` passed without one (False): by default
        the safety interval, which doubles each time it passes in vain. The partitions stay
        paused meanwhile: no fetch goes out."""
        if self.due(consumer):
            await self._spaced()
            return True
        # Every partition held, those a rebalance just assigned too (aiokafka fetches them
        # unless paused).
        consumer.pause(*consumer.assignment())
        self._paused = True
        safety = timeout_s is None
        deadline = time.monotonic() + (self._safety_s if safety else timeout_s or 0.0)
        while True:
            self._event.clear()  # `due` just said no: only a ring from now on counts
            try:
                await within(self._event.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                if safety:
                    self._safety_s = min(SAFETY_S[1], self._safety_s * 2)
                return False
            if self.due(consumer):
                self.woken += 1
                if self.replies_for is not None:
                    self.took()  # rung for a reply of ours: it is on its way
                await self._spaced()
                return True

    async def _spaced(self) -> None:
        """Wait out what is left of `LOOK_GAP_S` since the last look ended."""
        rest = self._looked_at + LOOK_GAP_S - time.monotonic()
        if rest > 0 and not self._now:
            await asyncio.sleep(rest)

    def wake(self) -> None:
        self._now = True
        self._event.set()

    def forget(self) -> None:
        """Drop what rings announced: the offsets of a broker that was lost. Its replacement
        numbers from 0 again, and an end announced on the old one would keep a look due,
        each finding nothing, until the consumer read that far on the new one."""
        self._announced.clear()

    @property
    def rung(self) -> bool:
        """A ring (or a wake) came since the last wait began."""
        return self._event.is_set()


def _behind(consumer: AIOKafkaConsumer, batch: dict[Any, list[Any]]) -> bool:
    """Whether the broker's answer to this look told of messages past what it returned on
    one of its partitions (the fetch's high watermark past the consumer's position)."""
    for tp in batch:
        end, position = consumer.highwater(tp), _position(consumer, tp)
        if end is not None and position is not None and end > position:
            return True
    return False


def _position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The offset `consumer` fetches `tp` from next, None if it has none yet (a reset is on
    its way). aiokafka keeps it in its subscription state, which `position()` reads too,
    but only as a coroutine that waits for a reset: `due` must answer at once."""
    with contextlib.suppress(AttributeError, KeyError, TypeError):
        state = consumer._subscription.subscription.assignment.state_value(tp)
        if state is not None and state.has_valid_position:
            return int(state.position)
    return None


class _Ear(asyncio.DatagramProtocol):
    def __init__(self, bell: Doorbell) -> None:
        self.bell = bell

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.bell.heard(data)

    def error_received(self, exc: Exception) -> None:
        pass  # a peer that went away between two reads of the directory
