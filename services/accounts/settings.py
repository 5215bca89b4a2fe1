"""The accounts process's settings: the shared ones, and the AML module's knobs (env
prefix COMPLIANCE_). The KYC class limits are the regulation's, in `domain.ClassLimits`."""

from __future__ import annotations

from pydantic import Field

from services.accounts.compliance.settings import ComplianceSettings
from shared import settings as shared


class Settings(shared.Settings):
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)


def from_environment() -> Settings:
    return shared.service_settings("accounts", Settings)
