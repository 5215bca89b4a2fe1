"""The accounts process's settings: the shared ones (accounts has no knobs of its own;
the KYC class limits are the regulation's, in `domain.ClassLimits`)."""

from __future__ import annotations

from shared import settings as shared

Settings = shared.Settings


def from_environment() -> Settings:
    return shared.service_settings("accounts", Settings)
