"""The gateway process's settings: the shared ones, and its own knobs (env prefix GATEWAY_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import settings as shared


class GatewaySettings(BaseSettings):
    """The gateway's abuse limits (token buckets: a steady rate and a burst), registration
    codes, password hashing and live streams."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    rate_ip_per_s: float = 2000.0
    rate_ip_burst: int = 4000
    rate_customer_per_s: float = 200.0
    rate_customer_burst: int = 400
    # Wrong passwords per client address and per phone number (a good login gives its
    # token back), and registration codes asked for (every one counts).
    rate_login_ip_per_s: float = 0.05
    rate_login_ip_burst: int = 20
    rate_login_phone_per_s: float = 0.01
    rate_login_phone_burst: int = 10
    rate_register_ip_per_s: float = 0.05
    rate_register_ip_burst: int = 10
    rate_register_phone_per_s: float = 0.005
    rate_register_phone_burst: int = 3
    # A registration code expires after this (sandbox clock) or this many wrong tries.
    registration_code_ttl_s: int = 600
    registration_code_max_attempts: int = 5
    # argon2 runs on this many threads; past this many waiting, a login is answered 503 at once.
    password_workers: int = 2
    password_max_waiting: int = 8
    sse_keepalive_s: float = 15.0
    # Open streams one customer may hold of each kind (notifications, market quotes).
    max_streams_per_customer: int = 5
    # Connections to each service for the streams relayed from it (its own pool).
    stream_connections_per_service: int = 500
    # The home screen answers with what it has after this long per service.
    home_timeout_s: float = 1.5
    # Webhooks (gateway/webhooks): a failed delivery is tried again after base, 2 x base,
    # 4 x base ... up to the cap, and marked failed after this many attempts in all.
    webhook_retry_base_s: float = 1.0
    webhook_retry_max_s: float = 600.0
    webhook_max_attempts: int = 8
    webhook_timeout_s: float = 10.0
    webhook_concurrency: int = 16
    webhook_max_endpoints: int = 10
    # After a rotation the old secret still signs deliveries for this long (the default).
    webhook_rotation_grace_s: int = 86400


class Settings(shared.Settings):
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)


def from_environment() -> Settings:
    return shared.service_settings("gateway", Settings)
