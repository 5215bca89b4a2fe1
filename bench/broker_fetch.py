"""What a fetch costs the embedded broker as a partition's history grows.

    python -m bench.broker_fetch [--batches 4000] [--step 1000] [--rounds 200]

Starts an embedded broker (tools/broker.py), writes single-record batches to one
partition, and every `--step` batches times `--rounds` rounds of one produce and the fetch
that brings it back, printing the broker's CPU per round. The embedded broker (tansu,
memory storage) keeps each produced batch as an object and, on every fetch that finds new
data, lists all the partition's batch objects to find those at or past the fetch offset,
so that cost grows with the batches the partition ever took: it never deletes any. A
Sandbank under load fetches from its busiest partitions many times a second, so its
broker costs more per transfer the longer the stack has run (README, Speed). Run it again
on a new broker to see whether it still does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.transfers import cpu_seconds
from tools.broker import EmbeddedBroker

TOPIC = "bench.fetch"
PAYLOAD = b"x" * 500  # about one signed event's size


async def rounds(broker: EmbeddedBroker, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, n: int) -> float:
    """The broker's CPU ms per round of one produce and the fetch that returns it."""
    partition = TopicPartition(TOPIC, 0)
    assert broker.process is not None
    # From the end: only the rounds' own records come back, one fetch each.
    await consumer.seek_to_end(partition)
    before = cpu_seconds(broker.process.pid)
    for _ in range(n):
        await producer.send_and_wait(TOPIC, PAYLOAD, partition=0)
        while not await consumer.getmany(partition, timeout_ms=500):
            pass
    return 1000 * (cpu_seconds(broker.process.pid) - before) / n


async def run(batches: int, step: int, n: int) -> list[tuple[int, float]]:
    found = []
    with EmbeddedBroker() as broker:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        # No linger: each send_and_wait is one batch, as each relay drain's is per partition.
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=0)
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, fetch_max_wait_ms=5)
        await producer.start()
        await consumer.start()
        try:
            consumer.assign([TopicPartition(TOPIC, 0)])
            stored = 0
            while stored <= batches:
                cost = await rounds(broker, producer, consumer, n)
                found.append((stored, cost))
                print(f"{stored:6} batches stored: {cost:6.3f} ms of broker CPU per produce and fetch", flush=True)
                for _ in range(step - n):
                    await producer.send_and_wait(TOPIC, PAYLOAD, partition=0)
                stored += step
        finally:
            await consumer.stop()
            await producer.stop()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=4000)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    if args.rounds >= args.step:
        parser.error("--rounds must be fewer than --step")
    started = time.perf_counter()
    found = asyncio.run(run(args.batches, args.step, args.rounds))
    first, last = found[0], found[-1]
    if last[0] > first[0]:
        slope = 1000 * (last[1] - first[1]) / (last[0] - first[0])
        print(f"{slope:.2f} µs more broker CPU per fetch for each batch stored ({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
