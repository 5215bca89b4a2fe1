"""One settings object per process, nested by concern (DB_, KAFKA_, AUTH_, HTTP_).

Built once in the process entry point and passed down; tests build their own.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DbSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DB_", extra="ignore")

    url: str = "sqlite+aiosqlite:///.data/service.db"
    # PostgreSQL: the schema the process's tables live in (several services may share one
    # database, each in its own schema); None keeps the server's search_path.
    schema_name: str | None = None
    echo: bool = False
    pool_size: int = 10
    # SQLite statements run on the event loop's thread instead of aiosqlite's worker
    # threads (shared/sqlite_inline.py explains why that is safe and faster).
    sqlite_inline: bool = True


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    partitions: int = 4
    max_batch: int = 500
    # Consumer retries for transient failures before a message goes to <topic>.dlq.
    max_attempts: int = 4
    retry_backoff_ms: int = 50
    # The embedded broker holds a consumer's first JoinGroup for half the session timeout,
    # rounded up to a whole second (1 s at 2000 ms, 2 s at 3000 ms): a short one keeps
    # start-up fast and moves a dead consumer's partitions on quickly. Heartbeats (every
    # half of it: an idle stack's largest cost, ADR 0019) run on their own task; a process
    # whose event loop stalls for longer than the other half misses the session, is dropped
    # from its group and rejoins, its uncommitted batch read again and dropped by the inbox.
    session_timeout_ms: int = 2000
    # How long the broker may hold a fetch while no message is there (idle cost vs. latency).
    fetch_max_wait_ms: int = 100
    # After this long without a message, a consumer's fetches may wait this long instead:
    # an idle stack then costs less, and the first message after a quiet spell waits up to
    # this long at each hop (the embedded broker answers a fetch only when its wait ends).
    # 0: never (the default).
    idle_fetch_max_wait_ms: int = Field(default=0, ge=0)
    idle_after_s: float = Field(default=10.0, gt=0)
    # Where the processes of one stack on one machine announce their doorbells
    # (shared/kafka/doorbell.py): a quiet consumer then waits for a producer's ring instead
    # of polling, and the two settings above do not apply. The launcher sets it when it
    # runs the embedded broker; empty (Apache Kafka, which answers a fetch as soon as a
    # message arrives): consumers poll.
    doorbell_dir: str = ""
    # How long the relay keeps a published outbox row, to send it again should the broker
    # come back without it (ADR 0013): longer than any consumer may lag behind.
    outbox_retention_s: float = Field(default=120.0, ge=0)
    # How often each process looks at the broker (its readiness and a lost broker).
    watch_interval_s: float = Field(default=1.0, gt=0)


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    # The stack's key pairs (shared/keys.py): this process's private key and every
    # process's public key. No key ships with the code; `sandbank run` makes them.
    keys_dir: str = ".data/keys"
    access_ttl_s: int = 900
    # Tokens the gateway mints for one hop to one service on a caller's behalf.
    hop_ttl_s: int = 60
    refresh_ttl_s: int = 30 * 24 * 3600
    # Step-up (strong customer authentication) on money-moving POSTs at the gateway: a
    # one-time code above this amount, or above the lower one for a transfer to a payee
    # the customer has not paid before.
    stepup_amount_minor: int = 5_000_00
    stepup_new_payee_minor: int = 1_000_00
    stepup_ttl_s: int = 300
    stepup_max_attempts: int = 5
    # Trusted devices: a customer's login from a device they have not used is challenged
    # by step-up; for device_new_s of sandbox time after, the device is new and its
    # payments have these lower limits (gateway/identity/devices.py).
    device_new_s: int = 24 * 3600
    new_device_per_payment_minor: int = 1_000_00
    new_device_daily_minor: int = 5_000_00
    # This many wrong passwords for a phone number lock its login for lockout_s.
    lockout_failures: int = 5
    lockout_s: int = 300


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024


class ServiceUrls(BaseSettings):
    """Where the gateway finds the services (queries and synchronous commands)."""

    model_config = SettingsConfigDict(env_prefix="SERVICE_URL_", extra="ignore")

    accounts: str = "http://127.0.0.1:8001"
    payments: str = "http://127.0.0.1:8002"
    securities: str = "http://127.0.0.1:8003"
    insurance: str = "http://127.0.0.1:8004"


class TracingSettings(BaseSettings):
    """The standard OpenTelemetry variables a process reads itself (shared/tracing.py);
    the SDK reads the rest (OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS ...)."""

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore")

    sdk_disabled: bool = False
    exporter_otlp_endpoint: str | None = None
    exporter_otlp_traces_endpoint: str | None = None
    # Finished spans each process keeps in memory for GET /internal/traces.
    kept_spans: int = Field(default=5000, ge=1, validation_alias="SANDBANK_TRACES_KEPT")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBANK_", extra="ignore")

    service: str = "service"
    # development | sandbox | production. Sandbox mode seeds demo data and opens the
    # /v1/sandbox controls; no mode accepts a key or secret that ships with the code.
    environment: str = "sandbox"
    log_level: str = "INFO"
    log_json: bool = True

    db: DbSettings = Field(default_factory=DbSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    urls: ServiceUrls = Field(default_factory=ServiceUrls)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    @property
    def sandbox(self) -> bool:
        return self.environment in ("sandbox", "development")


DEFAULT_PORTS = {"gateway": 8000, "accounts": 8001, "payments": 8002, "securities": 8003, "insurance": 8004}


S = TypeVar("S", bound=Settings)


def service_settings(service: str, cls: type[S], **overrides: Any) -> S:
    """Settings for one process from the environment: `cls` is the shared `Settings` or a
    service's own subclass of it (its knobs in a section of their own, in the service's
    `settings.py`), with the service's default port and SQLite file where the environment
    names none."""
    settings = cls(service=service, **overrides)
    if "HTTP_PORT" not in os.environ and "http" not in overrides:
        settings.http.port = DEFAULT_PORTS.get(service, 8000)
    if "DB_URL" not in os.environ and "db" not in overrides:
        settings.db.url = f"sqlite+aiosqlite:///.data/{service}.db"
    return settings
