"""How long the embedded broker (Tansu) takes to hand a dead replica's partitions to the
one left, with the consumer settings every Sandbank consumer uses (ADR 0018).

    python -m bench.rebalance [--runs 3] [--partitions 4]

Starts an embedded broker, creates a topic with the services' partition count, and runs
two consumers of one group in processes of their own, as two replicas would. Once each
holds half the partitions, one is SIGKILLed (no LeaveGroup: the broker must notice by
the session timeout) and the time until the other holds every partition is measured;
then the same with SIGTERM (a clean stop leaves the group at once). Prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from shared.kafka.producer import ensure_topics
from shared.settings import KafkaSettings
from tools.broker import EmbeddedBroker

ROOT = Path(__file__).resolve().parent.parent

# One member of the group: prints its assignment as a JSON list at every rebalance. The
# consumer options are shared/kafka/consumer.py's.
_MEMBER = """
import asyncio, json, signal, sys
from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener

class Say(ConsumerRebalanceListener):
    def __init__(self, consumer): self.consumer = consumer
    async def on_partitions_revoked(self, revoked): pass
    async def on_partitions_assigned(self, assigned):
        print(json.dumps(sorted(tp.partition for tp in self.consumer.assignment())), flush=True)

async def main(bootstrap, topic, group, session_ms):
    # Heartbeats every half session, as the stack's ConsumerLoop sends them.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=100, session_timeout_ms=session_ms,
        rebalance_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 2),
    )
    consumer.subscribe([topic], listener=Say(consumer))
    await consumer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set():
            await consumer.getmany(timeout_ms=100)
    finally:
        await consumer.stop()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


class Member:
    def __init__(self, bootstrap: str, topic: str, group: str, session_ms: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MEMBER, bootstrap, topic, group, str(session_ms)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        self.assignment: list[int] = []

    def read(self, timeout_s: float) -> bool:
        """Take the latest assignment it printed within `timeout_s`; False if none."""
        out = self.proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout_s)
        if not ready:
            return False
        self.assignment = json.loads(out.readline() or "[]")
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def wait_for(members: list[Member], holds: list[int], timeout_s: float) -> float:
    """Seconds until each member holds as many partitions as `holds` says."""
    began = time.monotonic()
    while [len(m.assignment) for m in members] != holds:
        if time.monotonic() - began > timeout_s:
            raise RuntimeError(f"no such assignment after {timeout_s}s: {[m.assignment for m in members]}")
        for m in members:
            m.read(0.01)
    return time.monotonic() - began


def one_run(bootstrap: str, partitions: int, session_ms: int, how: signal.Signals) -> float:
    topic, group = f"rebalance.{uuid.uuid4().hex[:8]}", f"probe-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(bootstrap, [topic], partitions=partitions))
    first = Member(bootstrap, topic, group, session_ms)
    wait_for([first], [partitions], 60)
    second = Member(bootstrap, topic, group, session_ms)
    try:
        half = partitions // 2
        wait_for([first, second], [partitions - half, half], 60)
        os.kill(second.proc.pid, how)
        return wait_for([first], [partitions], 60)
    finally:
        first.stop()
        second.stop()


def main(argv: list[str] | None = None) -> int:
    defaults = KafkaSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=defaults.partitions)
    parser.add_argument("--session-timeout-ms", type=int, default=defaults.session_timeout_ms)
    args = parser.parse_args(argv)
    broker = EmbeddedBroker()
    broker.start()
    try:
        figures: dict[str, list[float]] = {}
        for how in (signal.SIGKILL, signal.SIGTERM):
            took = [
                one_run(broker.bootstrap_servers, args.partitions, args.session_timeout_ms, how)
                for _ in range(args.runs)
            ]
            figures[how.name] = took
            print(
                f"{how.name}: the survivor held all {args.partitions} partitions after "
                f"{', '.join(f'{t:.2f}' for t in took)} s (median {statistics.median(took):.2f} s; "
                f"session timeout {args.session_timeout_ms} ms)",
                flush=True,
            )
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
