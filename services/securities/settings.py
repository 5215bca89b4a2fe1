"""The securities process's settings: the shared ones, and its own knobs (env prefix SECURITIES_)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.securities.domain import HOLIDAYS_2026, FeeSchedule, HoursMode
from shared import settings as shared
from shared.money import to_minor


class SecuritiesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SECURITIES_", extra="ignore")

    # The simulated market: the same seed walks the same prices.
    market_seed: int = 20240601
    # How often prices move; 0 stops the walk (tests drive prices through the sandbox
    # price control instead). The steps are taken when something reads the market, and
    # by the ticker: at every step while a quote stream is open or an order rests on the
    # market, every idle_tick_s otherwise (the price alerts of a market nobody watches
    # wait up to that long).
    tick_interval_ms: int = Field(default=500, ge=0)
    idle_tick_s: float = Field(default=5.0, gt=0)
    hours_mode: HoursMode = HoursMode.ALWAYS_OPEN
    # Weekdays the exchanges are closed (a_share mode), as a JSON list of dates in the env.
    holidays: list[date] = Field(default_factory=lambda: sorted(HOLIDAYS_2026))
    # Price history in the database: ticks and bars written every history_flush_s and when
    # the process stops (0: never, the history then lives in memory only), ticks kept for
    # this many trading days. Only a process killed outright loses the last few seconds.
    history_flush_s: float = Field(default=10.0, ge=0)
    tick_retention_days: int = Field(default=5, ge=1)
    # Fees, modelled on A-share practice.
    commission_rate: Decimal = Field(default=Decimal("0.00025"), ge=0, le=Decimal("0.01"))
    min_commission: Decimal = Field(default=Decimal("5.00"), ge=0)
    stamp_duty_rate: Decimal = Field(default=Decimal("0.0005"), ge=0, le=Decimal("0.01"))
    # Price alerts: moves from the previous close, in percent (JSON list in the env).
    alert_thresholds_pct: list[Decimal] = Field(default_factory=lambda: [Decimal(5)])
    alert_rearm_pct: Decimal = Field(default=Decimal("0.5"), ge=0)
    # Sagas: a step that hears nothing for step_timeout_s (on the sandbox clock, longer
    # with each send) is sent again; a reservation gives up after max_attempts sends.
    # The sweeper wakes every sweep_interval_s.
    step_timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    sweep_interval_s: float = Field(default=1.0, gt=0)

    def fee_schedule(self) -> FeeSchedule:
        minimum = to_minor(self.min_commission) if self.min_commission > 0 else 0
        return FeeSchedule(
            commission_rate=self.commission_rate,
            min_commission_minor=minimum,
            stamp_duty_rate=self.stamp_duty_rate,
        )

    def alert_thresholds_bp(self) -> list[int]:
        return [int(p * 100) for p in self.alert_thresholds_pct if p > 0]

    def alert_rearm_bp(self) -> int:
        return int(self.alert_rearm_pct * 100)


class Settings(shared.Settings):
    securities: SecuritiesSettings = Field(default_factory=SecuritiesSettings)


def from_environment() -> Settings:
    return shared.service_settings("securities", Settings)
