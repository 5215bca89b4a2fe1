"""The payments process's settings: the shared ones, and its own knobs (env prefix PAYMENTS_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import settings as shared


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    # Risk: at most velocity_max payments per customer in velocity_window_s; a first
    # payment to a payee above new_payee_threshold_minor is refused.
    velocity_max: int = 20
    velocity_window_s: int = 60
    new_payee_threshold_minor: int = 5_000_00
    # Sagas: a step that hears nothing for step_timeout_s is sent again; a reservation
    # gives up after max_reserve_attempts sends.
    step_timeout_s: float = 5.0
    max_reserve_attempts: int = 6
    # Payee look-ups (GET /v1/payees/lookup) per customer: lookup_burst at once, then
    # lookup_per_minute, so a customer cannot walk a list of numbers to collect names.
    lookup_burst: int = 10
    lookup_per_minute: float = 2.0


class Settings(shared.Settings):
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)


def from_environment() -> Settings:
    return shared.service_settings("payments", Settings)
