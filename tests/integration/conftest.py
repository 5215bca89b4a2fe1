"""One service with a real database and a real broker, driven over HTTP and Kafka.

For each database backend (SQLite always; PostgreSQL when SANDBANK_TEST_PG_URL is set)
the accounts app starts once, inside its lifespan, against a broker of its own: a
dedicated embedded Tansu, or the one named by KAFKA_BOOTSTRAP_SERVERS. Tests never
truncate tables; they make their own customers and accounts with fresh ids.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from fastapi import FastAPI

from services.accounts.main import create_app
from shared.bootstrap import Overrides
from shared.clock import Clock
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS, dlq
from shared.kafka.producer import ensure_topics
from shared.settings import AuthSettings, DbSettings, KafkaSettings, Settings
from tests.integration.harness import Bank, Tap
from tests.integration.pg import fresh_schema, of_this_worker
from tests.tokens import Minter
from tools.broker import EmbeddedBroker

PG_URL = os.environ.get("SANDBANK_TEST_PG_URL")
EXTERNAL_BROKER = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
ACCOUNTS_SCHEMA = of_this_worker("accounts_tests")


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="package", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="package")
def bootstrap_servers(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of the backend's own, so two apps never share the `accounts` group."""
    if EXTERNAL_BROKER:
        yield EXTERNAL_BROKER
        return
    log = tmp_path_factory.mktemp(f"broker-{backend}") / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="package")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("accounts-sqlite") / "accounts.db"
        return f"sqlite+aiosqlite:///{path}"
    assert PG_URL
    # A clean schema every run, so a run never depends on what the last one left.
    await fresh_schema(PG_URL, ACCOUNTS_SCHEMA)
    return PG_URL


async def _start_group_at_end(bootstrap_servers: str, group: str, topic: str, partitions: int) -> None:
    """Commit the group's offsets at the topic's end, so a fresh group on a long-lived
    broker does not replay other runs' commands into this run's fresh database."""
    await ensure_topics(bootstrap_servers, [topic, dlq(topic)], partitions=partitions)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in tps})
    finally:
        await consumer.stop()


S = TypeVar("S", bound=Settings)


def settings_for(
    service: str, url: str, bootstrap_servers: str, *, pg_schema: str | None = None, cls: type[S] = Settings
) -> S:
    """A process's settings in these tests (`cls`: the service's own, where it has knobs):
    sandbox, plain-text logs, the given database (on PostgreSQL, in `pg_schema`) and the
    package's broker. No doorbell rings here (the tests' own producers send straight to the
    broker), so consumers poll, and the embedded broker holds each fetch for its whole wait:
    at 20 ms rather than the 100 ms default every command and reply a test waits on arrives
    sooner."""
    return cls(
        service=service,
        environment="sandbox",
        log_json=False,
        db=DbSettings(url=url, schema_name=pg_schema),
        kafka=KafkaSettings(bootstrap_servers=bootstrap_servers, fetch_max_wait_ms=20),
        auth=AuthSettings(),
    )


async def database_of(service: str, backend: str, directory: Path, pg_schema: str) -> str:
    """A database of the service's own: a SQLite file in `directory`, or on PostgreSQL a
    fresh schema (its outbox, inbox and dead-letter tables would collide with accounts')."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / f'{service}.db'}"
    assert PG_URL
    await fresh_schema(PG_URL, pg_schema)
    return PG_URL


def group_suffix(backend: str) -> str:
    """A consumer group of this run's own on a shared broker (other runs' groups and history
    live there); nothing on the package's own embedded broker."""
    return f"-test-{backend}-{uuid.uuid4().hex[:8]}" if EXTERNAL_BROKER else ""


async def beside_the_bank(
    create_app: Callable[..., FastAPI], settings: Settings, bank: Bank, suffix: str, clock: Clock | None = None
) -> FastAPI:
    """A service that consumes accounts' facts in the group `<service><suffix>` (started
    at the topic's end where the group is new) and asks the in-process accounts app for
    accounts."""
    if suffix:
        group = f"{settings.service}{suffix}"
        await _start_group_at_end(settings.kafka.bootstrap_servers, group, ACCOUNTS_EVENTS, settings.kafka.partitions)
    overrides = Overrides(clock=clock, group_suffix=suffix, transports={"accounts": httpx.ASGITransport(app=bank.app)})
    return create_app(settings, overrides=overrides)


@asynccontextmanager
async def serving(app: FastAPI, topics: list[str]) -> AsyncIterator[tuple[httpx.AsyncClient, Tap]]:
    """The app inside its lifespan, a client on its ASGI app and a tap on `topics`."""
    settings: Settings = app.state.settings
    async with app.router.lifespan_context(app):
        tap = Tap(settings.kafka.bootstrap_servers, topics)
        await tap.start()
        try:
            base_url = f"http://{settings.service}"
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=30) as http:
                yield http, tap
        finally:
            await tap.stop()


@pytest.fixture(scope="package")
async def bank(backend: str, bootstrap_servers: str, database_url: str) -> AsyncIterator[Bank]:
    settings = settings_for(
        "accounts", database_url, bootstrap_servers, pg_schema=ACCOUNTS_SCHEMA if backend == "postgresql" else None
    )
    suffix = group_suffix(backend)
    if suffix:
        # accounts consumes accounts.commands, starting at the topic's end.
        await _start_group_at_end(bootstrap_servers, f"accounts{suffix}", ACCOUNTS_COMMANDS, settings.kafka.partitions)
    app = create_app(settings, overrides=Overrides(group_suffix=suffix))
    async with serving(app, [ACCOUNTS_EVENTS, dlq(ACCOUNTS_COMMANDS)]) as (http, tap):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks=1, linger_ms=0)
        await producer.start()
        try:
            yield Bank(backend, app, http, Minter(), producer, tap)
        finally:
            await producer.stop()


@pytest.fixture(autouse=True)
async def ledger_stays_balanced(bank: Bank) -> AsyncIterator[None]:
    """After every scenario, the operator's invariant check finds nothing wrong."""
    yield
    check = await bank.ledger_check()
    assert check["ok"], check["violations"]
