"""Bodies of the operator views."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.internal import DEAD_LETTER_LIST_EXAMPLE, DeadLetterList

DEAD_LETTERS_EXAMPLE: dict[str, Any] = {"services": [DEAD_LETTER_LIST_EXAMPLE], "unavailable": ["insurance"]}


class DeadLetters(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTERS_EXAMPLE]})

    services: list[DeadLetterList]
    unavailable: list[str]
