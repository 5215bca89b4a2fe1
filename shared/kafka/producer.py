from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.kafka import signing
from shared.kafka.doorbell import Doorbell
from shared.keys import Keyring

log = logging.getLogger(__name__)

Header = tuple[str, bytes]


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
        self._producer: AIOKafkaProducer | None = None
        self.started = False

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            linger_ms=1,
            acks=1,
            max_batch_size=256 * 1024,
            request_timeout_ms=15000,
        )
        await self._producer.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        if self._producer is not None:
            await self._producer.stop()

    async def send_many(self, messages: Sequence[tuple[str, str | None, bytes, list[Header]]]) -> None:
        """Send (topic, key, value, headers) in order, each signed, and wait until all are
        acknowledged. A message that carries a signature already (a dead letter replayed as
        its sender signed it) goes out as it is."""
        if self._producer is None:
            raise RuntimeError("start() first")
        futures = []
        for topic, key, value, headers in messages:
            raw_key = key.encode() if key is not None else None
            if not signing.is_signed(headers):
                headers = headers + signing.sign(self.keys, topic, raw_key, value)
            futures.append(await self._producer.send(topic, value, key=raw_key, headers=headers))
        await asyncio.gather(*futures)
        if self.doorbell is not None:
            self.doorbell.ring((topic, _cause(headers)) for topic, _key, _value, headers in messages)


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


def _cause(headers: list[Header]) -> str | None:
    """The service whose command a message answers (its `causation-source` header), if any."""
    for name, value in headers:
        if name == "causation-source":
            return value.decode(errors="replace")
    return None
