"""`GET /v1/sandbox/magic-values`: the table of gateway/magic.py, for test suites and demos."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from gateway import magic
from gateway.api import PROBLEM, _sandbox_only

router = APIRouter(
    prefix="/v1/sandbox", tags=["sandbox"], dependencies=[Depends(_sandbox_only)], responses={404: PROBLEM}
)


class MagicValuePublic(BaseModel):
    area: str
    value: str = Field(description="The value to send, or the control to use (Markdown)")
    effect: str
    source: str = Field(description="Where the rule lives")


class MagicValues(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "area": "transfer",
                            "value": "amount exactly `666.66`",
                            "effect": "after the hold: risk rejects (`rule: sandbox_magic_amount`), the hold is "
                            "released, the payment fails `risk_rejected`. Transfers only, not bills, QR or top-ups",
                            "source": "`services/payments/domain.py` (`RISK_MAGIC_AMOUNT`)",
                        }
                    ]
                }
            ]
        }
    )
    items: list[MagicValuePublic]


@router.get("/magic-values", response_model=MagicValues)
async def magic_values() -> MagicValues:
    """The sandbox's magic values and controls, like a card network's test numbers:
    demo logins, amounts and billers that force an outcome, limits, and the controls
    (clock, faults, reset) a test suite drives. The same table as docs/sandbox.md. No
    login needed; 404 outside sandbox mode."""
    return MagicValues(items=[MagicValuePublic(**row) for row in magic.as_json()])
