"""The broker watch: is the broker there, and is it still the broker we were talking to?

Each process asks the broker for its metadata every second: its cluster id and this
process's topics. Unreachable, the process reports itself not ready, with the reason.
Reachable again with another cluster id (the embedded broker gets a new one each time it
starts, and keeps messages in memory only), or with topics of ours missing, the broker
has lost what it held: the watch calls `on_new_broker`, which recreates the topics,
re-publishes the outbox rows still retained and has every consumer read from the start
(ADR 0013). A durable Kafka keeps its cluster id and topics across restarts, so on it the
watch only reports.

While the broker is there, the watch looks every `steady_s` (5 s), and at once when the
broker closes a connection the watch holds open to it for that (a broker that stops or
dies closes its sockets): the second-by-second metadata requests of every process were a
large share of what an idle stack cost, the broker's above all. A steady look is skipped
while the process's other clients vouch for the broker (`answered`: a group member's
heartbeat is answered every second) and the watch's own last look is less than
`vouched_s` (60 s) old: a broker that hangs stops answering them too, and one that comes
back as another closes the lifeline. While it is not there the watch looks every
`interval_s`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.metadata import MetadataRequest

from shared.aio import within

log = logging.getLogger(__name__)

UNKNOWN_TOPIC_OR_PARTITION = 3


class BrokerWatch:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        topics: Iterable[str],
        on_new_broker: Callable[[str], Awaitable[None]],
        interval_s: float = 1.0,
        steady_s: float = 5.0,
        vouched_s: float = 60.0,
        timeout_s: float = 2.0,
        answered: Callable[[], float] = lambda: -math.inf,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.topics = sorted(set(topics))
        self.on_new_broker = on_new_broker
        self.interval_s = interval_s
        self.steady_s = max(steady_s, interval_s)
        self.vouched_s = vouched_s
        # When (time.monotonic) another client of the process last had an answer from the broker.
        self.answered = answered
        self.looks = 0
        self.timeout_s = timeout_s
        self._client: AIOKafkaClient | None = None
        # A connection that sends nothing: its end is the broker going away.
        self._lifeline: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.cluster_id: str | None = None
        self.connected = False
        # Why not connected (or why the last recovery failed), for /readyz.
        self.problem: str | None = "not checked yet"
        self._down_since: float | None = None
        self.new_brokers = 0

    async def check(self) -> None:
        """One look at the broker; recovers from a lost one before it returns."""
        self.looks += 1
        try:
            cluster_id, missing = await within(self._metadata(), self.timeout_s)
        except Exception as exc:  # unreachable: every failure means the same here
            await self._close()
            if self.connected or self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("broker at %s unreachable: %r", self.bootstrap_servers, exc)
            self.connected = False
            self.problem = (
                f"broker at {self.bootstrap_servers} unreachable for "
                f"{time.monotonic() - self._down_since:.0f}s: {type(exc).__name__}"
            )
            return
        if not self.connected and self._down_since is not None:
            log.info("broker at %s reachable again", self.bootstrap_servers)
        self.connected = True
        self._down_since = None
        lost = None
        if self.cluster_id is not None and cluster_id != self.cluster_id:
            lost = f"the broker came back as cluster {cluster_id} (was {self.cluster_id})"
        elif missing:
            lost = f"the broker lacks {len(missing)} of our topics ({', '.join(missing[:3])}...)"
        if lost is None:
            self.cluster_id = cluster_id
            self.problem = None
            return
        log.warning("%s: recovering", lost)
        self.problem = f"recovering: {lost}"
        try:
            await self.on_new_broker(lost)
        except Exception as exc:
            log.exception("recovery from a lost broker failed; trying again")
            self.problem = f"recovery failed: {exc!r}"
            return
        self.cluster_id = cluster_id
        self.new_brokers += 1
        self.problem = None

    async def run(self) -> None:
        try:
            while True:
                await self.check()
                if not self.ready:
                    await asyncio.sleep(self.interval_s)
                    continue
                looked_at = time.monotonic()
                while await self._until_lost(self.steady_s) and self._vouched(looked_at):
                    pass
        finally:
            await self._close()

    def _vouched(self, looked_at: float) -> bool:
        """Whether the next look may wait: the process's other clients heard from the broker
        within the last `steady_s`, and the watch's own last look is recent enough (it alone
        finds our topics gone from a broker that kept running)."""
        now = time.monotonic()
        return now - looked_at < self.vouched_s and now - self.answered() < self.steady_s

    async def _until_lost(self, timeout_s: float) -> bool:
        """Wait `timeout_s`, or less if the broker closes the lifeline (or it cannot be
        opened: then the next look says why). True if the lifeline held all along."""
        if self._lifeline is None:
            host, _, port = self.bootstrap_servers.split(",")[0].strip().rpartition(":")
            try:
                self._lifeline = await within(asyncio.open_connection(host, int(port)), self.timeout_s)
            except (OSError, TimeoutError, ValueError):
                await asyncio.sleep(self.interval_s)
                return False
        reader, _ = self._lifeline
        try:
            await within(reader.read(1), timeout_s)  # the broker never writes: b"" at its end
        except TimeoutError:
            return True
        except OSError:
            pass
        self._drop_lifeline()
        return False

    def _drop_lifeline(self) -> None:
        lifeline, self._lifeline = self._lifeline, None
        if lifeline is not None:
            lifeline[1].close()

    @property
    def ready(self) -> bool:
        return self.connected and self.problem is None

    async def _metadata(self) -> tuple[str, list[str]]:
        """The broker's cluster id, and which of our topics it lacks."""
        if self._client is None:
            client = AIOKafkaClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"{self.client_id}-watch",
                request_timeout_ms=int(self.timeout_s * 1000),
            )
            try:
                await client.bootstrap()
            except BaseException:
                await client.close()
                raise
            self._client = client
        node = self._client.get_random_node()
        if node is None:
            raise ConnectionError("the broker listed no node")
        answer = await self._client.send(node, MetadataRequest(self.topics, allow_auto_topic_creation=False))
        found = {t[1] for t in answer.topics if t[0] != UNKNOWN_TOPIC_OR_PARTITION}
        return str(answer.cluster_id), [t for t in self.topics if t not in found]

    async def _close(self) -> None:
        self._drop_lifeline()
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close()
            except Exception:  # a connection already gone
                pass
