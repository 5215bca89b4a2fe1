"""shared.kafka.producer: every key lands where aiokafka's default partitioner puts it, and
a key's messages keep their order through the record batches (consumers rely on one
partition per key, in order, across releases and replicas)."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka.producer import KeyPartitioner, Producer, murmur2
from shared.keys import Keyring

PARTITIONS = list(range(4))


@given(st.binary(max_size=80))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=30), st.integers(1, 12))
def test_a_key_goes_to_the_partition_aiokafkas_default_picks(keys: list[bytes], count: int) -> None:
    partitions = list(range(count))
    ours, default = KeyPartitioner(), DefaultPartitioner()
    for key in keys + keys:  # the second time from what it remembered
        assert ours(key, partitions, partitions) == default(key, partitions, partitions)


def test_ids_as_sandbank_keys_them_land_as_before() -> None:
    """Payment ids and account ids, across the memory's limit."""
    ours = KeyPartitioner()
    keys = [f"{i:08x}-bec1-47bc-9720-65ca670d76b2".encode() for i in range(KeyPartitioner.KEEP + 100)]
    keys += [b"a0", b"acc-1", b"internal:cash-in"]
    for key in keys + keys[:50]:
        assert ours(key, PARTITIONS, PARTITIONS) == DefaultPartitioner()(key, PARTITIONS, PARTITIONS)


def test_a_keyless_message_goes_to_an_available_partition() -> None:
    ours = KeyPartitioner()
    assert {ours(None, PARTITIONS, [2]) for _ in range(20)} == {2}
    assert {ours(None, PARTITIONS, []) for _ in range(200)} == set(PARTITIONS)


# --- record batches ----------------------------------------------------------------------------


class _Broker:
    """An AIOKafkaProducer taking record batches as aiokafka builds them (small, so they fill
    up), keeping each partition's records in the order they came, acknowledged at once."""

    def __init__(self, partitions: int, batch_bytes: int) -> None:
        self.partitions = set(range(partitions))
        self.batch_bytes = batch_bytes
        self.log: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = {}
        self.batches = 0
        self.client = SimpleNamespace(cluster=SimpleNamespace(available_partitions_for_topic=lambda t: self.partitions))

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_bytes, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.batches += 1
        records = MemoryRecords(bytes(batch._build())).next_batch()
        assert records is not None
        self.log.setdefault((topic, partition), []).extend((r.key, r.value) for r in records)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_each_key_keeps_its_partition_and_its_order_across_full_batches() -> None:
    broker = _Broker(partitions=3, batch_bytes=2000)
    producer = Producer("127.0.0.1:1", client_id="payments", keys=Keyring.load(os.environ["AUTH_KEYS_DIR"], "payments"))
    producer._producer = broker  # type: ignore[assignment]
    messages = [
        (topic, f"key-{i % 7}", f"{topic} {i}".encode() + bytes(300), [("type", b"t")])
        for i in range(60)
        for topic in ("accounts.commands", "payments.events")
    ]

    await producer.send_many(messages)

    assert broker.batches > len(broker.log)  # some partitions took more than one batch
    for topic in ("accounts.commands", "payments.events"):
        for k in range(7):
            key = f"key-{k}".encode()
            [where] = {p for (t, p), records in broker.log.items() if t == topic and any(r[0] == key for r in records)}
            assert where == DefaultPartitioner()(key, [0, 1, 2], [0, 1, 2])
            got = [value for rk, value in broker.log[(topic, where)] if rk == key]
            assert got == [value for t, mk, value, _ in messages if t == topic and mk == f"key-{k}"]
