"""Kafka plumbing: producer, transactional outbox and relay, inbox, consumer loop."""

from shared.kafka.consumer import ConsumerLoop, Handler
from shared.kafka.messaging import UnitOfWork, messaging_tables
from shared.kafka.producer import Producer, ensure_topics
from shared.kafka.relay import OutboxRelay

__all__ = [
    "ConsumerLoop",
    "Handler",
    "OutboxRelay",
    "Producer",
    "UnitOfWork",
    "ensure_topics",
    "messaging_tables",
]
