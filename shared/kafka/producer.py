from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.producer.message_accumulator import BatchBuilder

from shared.aio import within
from shared.kafka import signing
from shared.kafka.doorbell import Doorbell
from shared.keys import Keyring

log = logging.getLogger(__name__)

Header = tuple[str, bytes]

# How long a renewed client may take to close the old one's connections, and to start.
RENEW_TIMEOUT_S = (3.0, 30.0)

_M = 0x5BD1E995
_WORDS = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of a key (org.apache.kafka.common.utils.Utils.murmur2), as
    aiokafka's default partitioner computes it, with the 32-bit words unpacked at once
    and the masks only where a value could pass 32 bits."""
    length = len(data)
    h = 0x9747B28C ^ length
    end = length & ~3
    for (k,) in _WORDS.iter_unpack(data[:end]):
        k = (k * _M) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * _M) & 0xFFFFFFFF
        h = ((h * _M) & 0xFFFFFFFF) ^ k
    extra = length - end
    if extra:
        if extra >= 3:
            h ^= data[end + 2] << 16
        if extra >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _M) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


class KeyPartitioner:
    """The partition aiokafka's default partitioner picks (murmur2 of the key, modulo the
    partition count; a keyless message any available one), with each key's hash
    remembered: a payment's id keys four of its events and an account's id every command
    to it, and consumers rely on every message of one key landing on one partition, in order."""

    # Keys remembered at most; past that the memory starts again.
    KEEP = 16384

    def __init__(self) -> None:
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return random.choice(available or all_partitions)
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= self.KEEP:
                self._hashes.clear()
            found = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[found % len(all_partitions)]


class Producer:
    """A started AIOKafkaProducer, shared by the outbox relay and the DLQ path; it signs
    every message as its process (shared/kafka/signing.py).

    Not idempotent and not transactional on purpose: the embedded broker lacks
    InitProducerId, and correctness rests on the outbox and inbox instead.
    """

    def __init__(
        self, bootstrap_servers: str, *, client_id: str, keys: Keyring, doorbell: Doorbell | None = None
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        # Rung with the topics of each acknowledged send (shared/kafka/doorbell.py).
        self.doorbell = doorbell
        self.client_id = client_id
        self.keys = keys
        self.partitioner = KeyPartitioner()
        self._producer: AIOKafkaProducer | None = None
        self.started = False
        # Clients replaced because their sender task had ended (`_renew`).
        self.renewals = 0

    async def start(self) -> None:
        self._producer = self._open()
        await self._producer.start()
        self.started = True

    def _open(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            linger_ms=1,
            acks=1,
            max_batch_size=256 * 1024,
            request_timeout_ms=15000,
        )

    def _sender_ended(self) -> str | None:
        """Why aiokafka's sender task ended, if it has: an error it did not expect (a write
        on a connection a lost broker closed). The client then fails what it held and takes
        every later batch without ever sending it: the outbox relay would wait on its
        acknowledgement for good."""
        task = getattr(getattr(self._producer, "_sender", None), "sender_task", None)
        if not isinstance(task, asyncio.Task) or not task.done():
            return None
        return "cancelled" if task.cancelled() else repr(task.exception())

    async def _renew(self, why: str) -> None:
        """Close a client whose sender task ended and start a new one. Nothing is lost:
        what the old one failed, the relay sends again (its rows stay unmarked). If the new
        one does not start, the old one stays, and the next send tries again."""
        log.warning(
            "producer %s: its sender ended (%s); closing its Kafka client and opening a new one", self.client_id, why
        )
        producer = self._open()
        try:
            await within(producer.start(), RENEW_TIMEOUT_S[1])
        except BaseException:
            with contextlib.suppress(Exception):
                await within(producer.stop(), RENEW_TIMEOUT_S[0])
            raise
        old, self._producer = self._producer, producer
        self.renewals += 1
        if old is not None:
            try:
                await within(old.stop(), RENEW_TIMEOUT_S[0])  # its sender has ended: nothing to flush
            except Exception as exc:
                log.warning("producer %s: closing its old client failed (%r)", self.client_id, exc)

    async def stop(self) -> None:
        self.started = False
        if self._producer is not None:
            await self._producer.stop()

    async def send_many(self, messages: Sequence[tuple[str, str | None, bytes, list[Header]]]) -> None:
        """Send (topic, key, value, headers) in order, each signed, and wait until all are
        acknowledged. A message that carries a signature already (a dead letter replayed as
        its sender signed it) goes out as it is.

        The messages go into one record batch per partition (aiokafka's `send_batch`), in
        order, rather than one `send` each: a send is a coroutine, a size estimate, a
        partition look-up and a future per message, about as much as signing it. Each key
        keeps its partition (`KeyPartitioner`), so its messages keep their order."""
        if self._producer is None:
            raise RuntimeError("start() first")
        ended = self._sender_ended()
        if ended is not None:
            await self._renew(ended)
        producer = self._producer
        keys, partitioner = self.keys, self.partitioner
        partitions: dict[str, tuple[list[int], list[int]]] = {}
        # Per partition its batches, each with the causes and types of its messages (for the ring).
        batches: dict[tuple[str, int], list[tuple[BatchBuilder, set[tuple[str | None, str | None]]]]] = {}
        for topic, key, value, headers in messages:
            raw_key = key.encode() if key is not None else None
            if not signing.is_signed(headers):
                headers = headers + signing.sign(keys, topic, raw_key, value)
            known = partitions.get(topic)
            if known is None:
                known = partitions[topic] = await self._partitions(topic)
            builders = batches.setdefault((topic, partitioner(raw_key, *known)), [])
            last = builders[-1][0] if builders else None
            if last is None or last.append(timestamp=None, key=raw_key, value=value, headers=headers) is None:
                # A new batch (the first of the partition, or the last one is full) takes
                # any message, however large.
                builders.append((producer.create_batch(), set()))
                builders[-1][0].append(timestamp=None, key=raw_key, value=value, headers=headers)
            if self.doorbell is not None:
                builders[-1][1].add(_cause_and_type(headers))
        futures, sent = [], []
        for (topic, partition), builders in batches.items():
            for builder, causes in builders:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                if self.doorbell is not None:
                    sent.append((topic, partition, builder.record_count(), causes))
        acknowledged = await asyncio.gather(*futures)
        if self.doorbell is not None:
            # Each batch's partition and the offset past its last message: a consumer that
            # has read that far, or holds another partition, is not woken for nothing.
            self.doorbell.ring(
                (topic, cause, kind, partition, _end(meta, count))
                for (topic, partition, count, causes), meta in zip(sent, acknowledged, strict=True)
                for cause, kind in causes
            )

    async def _partitions(self, topic: str) -> tuple[list[int], list[int]]:
        """The topic's partitions, and those with a leader now (where a keyless message may
        go), as aiokafka's partitioner is given them."""
        assert self._producer is not None
        every = sorted(await self._producer.partitions_for(topic))
        available = self._producer.client.cluster.available_partitions_for_topic(topic)
        return every, sorted(available or ())


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int, timeout_s: float = 20.0
) -> None:
    """Create topics with their partition counts (existing ones are left alone)."""
    names = sorted(set(topics))
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [n for n in names if n not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                    )
                except TopicAlreadyExistsError:
                    pass
            return
        except KafkaError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"could not create topics on Kafka at {bootstrap_servers}: {exc}") from exc
            log.warning("kafka not ready yet (%s); retrying", exc)
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


def _end(meta: object, count: int) -> int | None:
    """The offset past a batch's last message, from the broker's answer (its first offset),
    None if the answer gave none."""
    base = getattr(meta, "offset", None)
    return base + count if isinstance(base, int) and base >= 0 else None


def _cause_and_type(headers: list[Header]) -> tuple[str | None, str | None]:
    """The service whose command a message answers (its `causation-source` header) and the
    message's type (`type`), each None if the message has none."""
    cause = kind = None
    for name, value in headers:
        if name == "causation-source":
            cause = value.decode(errors="replace")
        elif name == "type":
            kind = value.decode(errors="replace")
    return cause, kind
