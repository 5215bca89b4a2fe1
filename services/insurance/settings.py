"""The insurance process's settings: the shared ones, and its own knobs (env prefix INSURANCE_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import settings as shared


class InsuranceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INSURANCE_", extra="ignore")

    # Claims below this (fen) are approved without an adjuster.
    auto_approve_below_minor: int = 1_000_00
    # From this amount (fen) on, two different adjusters must approve.
    four_eyes_from_minor: int = 10_000_00
    # Claim fraud flags (services/insurance/domain/fraud.py, docs/insurance.md); 0 turns a
    # rule off. An incident in the cover's first N days (an insurer's usual window is 30)
    # ... the Nth claim on one policy reported within M days (usually the 3rd in 90) ...
    # These two are off in the sandbox by default: an app's tests buy a policy and claim
    # on it at once, often several times, and a small claim's outcome should depend on
    # its own facts. A document seen on another claim and a claim near the sum insured
    # are flagged from the start.
    fraud_early_claim_days: int = 0
    fraud_frequent_claims: int = 0
    fraud_frequent_claims_days: int = 90
    # ... and a claim of at least this share (%) of the sum insured are flagged.
    fraud_near_sum_insured_pct: int = 95
    # A saga step that hears nothing from accounts for this long is re-sent (each re-send
    # waits a little longer, up to four times this) ...
    step_timeout_s: float = 5.0
    # ... and sent at most this many times before the saga gives up cleanly (a release is
    # sent until accounts answers).
    max_attempts: int = 5
    # How often the saga sweeper looks for steps past their deadline.
    sweep_every_s: float = 1.0
    # How often the lifecycle job writes down policies the sandbox clock moved past their
    # last day (expired) or past the renewal grace period (lapsed).
    lifecycle_every_s: float = 1.0


class Settings(shared.Settings):
    insurance: InsuranceSettings = Field(default_factory=InsuranceSettings)


def from_environment() -> Settings:
    return shared.service_settings("insurance", Settings)
