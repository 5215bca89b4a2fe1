"""shared.kafka.producer's partitioner: every key lands where aiokafka's default partitioner
puts it (consumers rely on one partition per key, in order, across releases and replicas)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka.producer import KeyPartitioner, murmur2

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
