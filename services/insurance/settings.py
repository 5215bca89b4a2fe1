"""The insurance service's own knobs (env prefix INSURANCE_), read once at start-up."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class InsuranceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INSURANCE_", extra="ignore")

    # Claims below this (fen) are approved without an adjuster.
    auto_approve_below_minor: int = 1_000_00
    # From this amount (fen) on, two different adjusters must approve.
    four_eyes_from_minor: int = 10_000_00
    # A saga step that hears nothing from accounts for this long is re-sent ...
    step_timeout_s: float = 5.0
    # ... at most this many times before the saga gives up cleanly.
    max_attempts: int = 5
    # How often the timeout sweeper wakes.
    sweep_every_s: float = 1.0
