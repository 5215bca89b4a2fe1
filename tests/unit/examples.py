"""The examples a schema model declares, for tests that check them against the domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def examples_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    return model.model_config["json_schema_extra"]["examples"]  # type: ignore[index, call-overload, no-any-return]
