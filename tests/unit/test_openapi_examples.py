"""The gateway's OpenAPI document shows an example for every request body and every 2xx
JSON response, and every example a model declares is one the model accepts."""

from __future__ import annotations

import importlib
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel

from gateway.main import create_app
from tests.unit.examples import examples_of

ROOT = Path(__file__).resolve().parents[2]


def _has_example(schema: dict[str, Any] | None, components: dict[str, Any]) -> bool:
    if not schema:
        return False
    if "$ref" in schema:
        schema = components[schema["$ref"].split("/")[-1]]
    if "examples" in schema or "example" in schema:
        return True
    if schema.get("type") == "array" and schema.get("items"):
        return _has_example(schema["items"], components)
    return False


def test_every_operation_documents_request_and_response_examples() -> None:
    document = create_app().openapi()
    components = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body and not _has_example(body["content"].get("application/json", {}).get("schema"), components):
                missing.append(("request", method, path))
            for code, response in operation.get("responses", {}).items():
                json_content = response.get("content", {}).get("application/json")
                if not code.startswith("2") or json_content is None:
                    continue
                if not (
                    _has_example(json_content.get("schema"), components)
                    or json_content.get("example")
                    or json_content.get("examples")
                ):
                    missing.append(("response", method, path))
    assert missing == []


def _modules() -> list[ModuleType]:
    names = [f"shared.schemas.{p.stem}" for p in sorted((ROOT / "shared" / "schemas").glob("*.py"))]
    names += [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in sorted((ROOT / "gateway").rglob("*.py"))
        if p.stem not in ("__main__", "__init__") and "migrations" not in p.parts
    ]
    names.append("shared.internal")
    return [importlib.import_module(name) for name in names if not name.endswith(".__init__")]


def _models_with_examples() -> list[type[BaseModel]]:
    found = []
    for module in _modules():
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and isinstance(value.model_config.get("json_schema_extra"), dict)
                and "examples" in value.model_config["json_schema_extra"]  # type: ignore[operator]
            ):
                found.append(value)
    return found


MODELS = _models_with_examples()


def test_the_models_with_examples_were_found() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"AccountPublic", "AccountList", "PaymentPublic", "ClaimPublic", "TokenPair", "ClockState"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__}.{m.__name__}")
def test_every_declared_example_validates_and_is_in_the_schema(model: type[BaseModel]) -> None:
    examples = examples_of(model)
    assert examples
    for example in examples:
        model.model_validate(example)
    assert model.model_json_schema()["examples"] == examples


def _money_pairs(value: Any) -> list[tuple[str, str, int]]:
    """Every `x` / `x_minor` pair in an example, at any depth."""
    pairs = []
    if isinstance(value, dict):
        for key, minor in value.items():
            major = value.get(key.removesuffix("_minor"))
            if key.endswith("_minor") and isinstance(major, str) and isinstance(minor, int):
                pairs.append((key, major, minor))
        for nested in value.values():
            pairs += _money_pairs(nested)
    elif isinstance(value, list):
        for nested in value:
            pairs += _money_pairs(nested)
    return pairs


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__}.{m.__name__}")
def test_example_amounts_match_their_minor_units(model: type[BaseModel]) -> None:
    for example in examples_of(model):
        for key, major, minor in _money_pairs(example):
            # Signed minor units (a debit's amount_minor) go with an unsigned decimal string.
            assert Decimal(major) * 100 == abs(minor), (key, major, minor)
