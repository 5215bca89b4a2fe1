"""A doorbell between the processes of one stack on one machine: "there is something new
on these topics", so an idle consumer fetches at once instead of polling the broker.

Why: the embedded broker (Tansu) holds every fetch for its whole `fetch_max_wait_ms`,
even when a message arrives meanwhile, and answers an empty fetch only when that wait
ends. A consumer that polls every 100 ms costs the broker and itself CPU all day long
(an idle stack of twenty consumers sent 200 fetches a second), and each hop of a saga
waited 50 ms on average for the poll to come round.

With a doorbell, a consumer that has had no message for half a second and whose look
came back empty pauses its partitions (no fetch goes out) and waits for a ring on one of
its topics; the producer rings after the broker
acknowledged what it sent, so the fetch that follows finds the messages at once. A ring
is one UDP datagram to each process of the stack on 127.0.0.1, listing the topics. Rings
are hints, never the only way in: a consumer still looks after `SAFETY_S` without one
(messages sent by a tool outside the stack, a lost datagram), so nothing is lost and the
worst case is today's poll, slower.

A reply names the service whose command caused it (`topic>service` in the ring). A
consumer that takes only the replies to its own service's commands (securities and
insurance on `accounts.events`, where nearly every message answers payments) is woken by
its own replies and by messages nobody caused, and counts only what it applies as a
message: on a busy topic that is all someone else's, it pauses as on a quiet one, rather
than fetching and committing the others' messages a dozen times a second.

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

from aiokafka import AIOKafkaConsumer

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
# A consumer waits for rings only once it has had no message for this long: under load it
# keeps fetching as before, each held fetch gathering a batch (a ring for every send would
# cut the batches small and cost a transaction each).
QUIET_S = 0.5


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

    def listener(self, topics: Iterable[str], *, replies_for: str | None = None) -> Listener:
        """A consumer's ear for rings naming one of `topics`; with `replies_for`, only for
        the replies to that service's commands and messages nobody caused."""
        listener = Listener(topics, replies_for=replies_for)
        self._listeners.append(listener)
        return listener

    def ring(self, sent: Iterable[tuple[str, str | None]]) -> None:
        """Tell every process of the stack (this one too) that topics have new messages:
        `sent` holds (topic, the service whose command the message answers, or None)."""
        if self._transport is None:
            return
        message = "\n".join(sorted({f"{topic}>{cause}" if cause else topic for topic, cause in sent})).encode()
        if not message:
            return
        for port in self._peer_ports():
            self._transport.sendto(message, (HOST, port))
        self.rings_sent += 1

    def heard(self, message: bytes) -> None:
        self.rings_heard += 1
        sent = [entry.partition(">")[::2] for entry in message.decode(errors="replace").split("\n")]
        for listener in self._listeners:
            if listener.wants(sent):
                listener.wake()

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
    """How one aiokafka consumer spends its quiet spells: `look` takes what the broker has
    now (or nothing after a short look); after an empty look, once `QUIET_S` passed without
    a message, `wait` pauses every partition until a ring for one of its topics, `wake`, or
    the safety interval.

    With `replies_for`, a look's records are not yet messages for it: the consumer says
    which were (`took`), and `quiet` tells it when to wait although its looks find records."""

    def __init__(self, topics: Iterable[str], *, replies_for: str | None = None) -> None:
        self.topics = frozenset(topics)
        self.replies_for = replies_for
        self._event = asyncio.Event()
        self._paused = False
        self._safety_s = SAFETY_S[0]
        self._last_message_at = time.monotonic()
        self.woken = 0

    async def look(self, consumer: AIOKafkaConsumer, max_records: int) -> dict[Any, list[Any]]:
        # A ring from now on sets the event again: one that comes while this look is on
        # its way is not lost, the wait after an empty look returns at once.
        self._event.clear()
        if self._paused:
            self._paused = False
            consumer.resume(*consumer.assignment())
        batch: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=LOOK_MS, max_records=max_records)
        if batch and self.replies_for is None:
            self.took()
        return batch

    def listen_for(self, topics: Iterable[str]) -> None:
        """Hear rings for `topics` too: the consumer's group member carries another loop's."""
        self.topics = self.topics | frozenset(topics)

    def wants(self, sent: Iterable[tuple[str, str]]) -> bool:
        """Whether a ring's (topic, cause) entries announce a message for this consumer."""
        return any(
            topic in self.topics and (self.replies_for is None or not cause or cause == self.replies_for)
            for topic, cause in sent
        )

    def took(self) -> None:
        """A message for this consumer came: it keeps looking for `QUIET_S` more."""
        self._safety_s = SAFETY_S[0]
        self._last_message_at = time.monotonic()

    @property
    def quiet(self) -> bool:
        """No message for this consumer for `QUIET_S`, though its looks may find records."""
        return time.monotonic() - self._last_message_at >= QUIET_S

    async def wait(self, consumer: AIOKafkaConsumer) -> None:
        if not self.quiet:
            return  # busy a moment ago: the next look's held fetch gathers what comes
        consumer.pause(*consumer.assignment())
        self._paused = True
        try:
            await within(self._event.wait(), self._safety_s)
            self.woken += 1
            if self.replies_for is not None:
                # Rung for a reply of ours: read on, past others' messages, until it is in.
                self.took()
        except TimeoutError:
            self._safety_s = min(SAFETY_S[1], self._safety_s * 2)

    def wake(self) -> None:
        self._event.set()

    @property
    def rung(self) -> bool:
        """A ring (or a wake) came since the last look."""
        return self._event.is_set()


class _Ear(asyncio.DatagramProtocol):
    def __init__(self, bell: Doorbell) -> None:
        self.bell = bell

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.bell.heard(data)

    def error_received(self, exc: Exception) -> None:
        pass  # a peer that went away between two reads of the directory
