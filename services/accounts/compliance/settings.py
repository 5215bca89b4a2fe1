"""The AML rules' knobs (env prefix COMPLIANCE_), a section of the accounts settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.accounts.compliance.rules import Thresholds

_DEFAULT = Thresholds()


class ComplianceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLIANCE_", extra="ignore")

    # Large-value reports, PBoC Order [2016] No. 3 art. 5 (natural persons).
    large_cash_minor: int = Field(default=_DEFAULT.large_cash_minor, gt=0)
    large_transfer_minor: int = Field(default=_DEFAULT.large_transfer_minor, gt=0)
    # Suspicious patterns (docs/compliance.md).
    structuring_window_h: float = Field(default=_DEFAULT.structuring_window_h, gt=0)
    structuring_min_count: int = Field(default=_DEFAULT.structuring_min_count, ge=2)
    structuring_band: float = Field(default=_DEFAULT.structuring_band, gt=0, lt=1)
    rapid_window_h: float = Field(default=_DEFAULT.rapid_window_h, gt=0)
    rapid_min_in_minor: int = Field(default=_DEFAULT.rapid_min_in_minor, gt=0)
    rapid_out_ratio: float = Field(default=_DEFAULT.rapid_out_ratio, gt=0, le=1)
    dormant_days: int = Field(default=_DEFAULT.dormant_days, ge=1)
    dormant_min_minor: int = Field(default=_DEFAULT.dormant_min_minor, gt=0)
    many_payers_window_h: float = Field(default=_DEFAULT.many_payers_window_h, gt=0)
    many_payers_min: int = Field(default=_DEFAULT.many_payers_min, ge=2)
    # How long the module gathers the ledger's facts before applying them in one
    # transaction (its consumer's `gather_s`): monitoring is on no payment's path, and one
    # transaction for many facts spends far less than one per fetch. 0: each fetch at once.
    gather_ms: int = Field(default=250, ge=0, le=5000)

    def thresholds(self) -> Thresholds:
        return Thresholds(**self.model_dump(exclude={"gather_ms"}))
