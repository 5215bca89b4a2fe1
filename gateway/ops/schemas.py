"""Bodies of the operator views."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.internal import DEAD_LETTER_LIST_EXAMPLE, DeadLetterList
from shared.schemas.sagas import STUCK_SAGAS_EXAMPLE, StuckSagas

DEAD_LETTERS_EXAMPLE: dict[str, Any] = {"services": [DEAD_LETTER_LIST_EXAMPLE], "unavailable": ["insurance"]}


class DeadLetters(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTERS_EXAMPLE]})

    services: list[DeadLetterList]
    unavailable: list[str]


STUCK_EXAMPLE: dict[str, Any] = {"total": 1, "services": [STUCK_SAGAS_EXAMPLE], "unavailable": ["insurance"]}


class StuckSagasEverywhere(BaseModel):
    """Every service's sagas past their deadline, by kind."""

    model_config = ConfigDict(json_schema_extra={"examples": [STUCK_EXAMPLE]})

    total: int = Field(description="Sagas past their deadline in the services that answered")
    services: list[StuckSagas]
    unavailable: list[str] = Field(description="Services that did not answer")
