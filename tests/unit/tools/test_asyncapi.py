"""tools.asyncapi: the checked-in AsyncAPI document and events catalogue match the schemas."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from shared.events import Message, topics
from tools import asyncapi

STALE = "is stale: run `make asyncapi` and commit the result"


def test_checked_in_asyncapi_document_matches_the_schemas() -> None:
    checked_in = asyncapi.ASYNCAPI_PATH.read_text(encoding="utf-8")

    assert checked_in == asyncapi.render_asyncapi(), f"docs/asyncapi.json {STALE}"


def test_checked_in_events_catalogue_matches_the_schemas() -> None:
    checked_in = asyncapi.EVENTS_PATH.read_text(encoding="utf-8")

    assert checked_in == asyncapi.render_events_md(), f"docs/events.md {STALE}"


def test_generation_is_deterministic() -> None:
    assert asyncapi.render_asyncapi() == asyncapi.render_asyncapi()
    assert asyncapi.render_events_md() == asyncapi.render_events_md()


@pytest.mark.parametrize("model", asyncapi.messages(), ids=lambda m: m.TYPE)
def test_message_type_is_named_after_its_topics_service(model: type[Message]) -> None:
    assert model.TOPIC, f"{model.__name__} has no TOPIC"
    assert model.TYPE.startswith(f"{asyncapi.owner(model.TOPIC)}."), (
        f"{model.TYPE} travels on {model.TOPIC}: its type must start with {asyncapi.owner(model.TOPIC)}."
    )


@pytest.mark.parametrize("model", asyncapi.messages(), ids=lambda m: m.TYPE)
def test_message_names_its_partition_key(model: type[Message]) -> None:
    assert asyncapi.key_template(model), f"{model.TYPE} has no key(): Envelope.wrap cannot publish it"


@pytest.mark.parametrize("topic", topics.ALL)
def test_topic_is_a_services_events_or_commands(topic: str) -> None:
    service, _, kind = topic.partition(".")

    assert service and kind in ("events", "commands")


def test_every_topic_has_a_channel_and_a_dead_letter_channel() -> None:
    channels = json.loads(asyncapi.render_asyncapi())["channels"]

    for topic in topics.ALL:
        assert topic in channels
        assert topics.dlq(topic) in channels


def test_owner_sends_its_events_and_receives_its_commands() -> None:
    operations = asyncapi.asyncapi()["operations"]

    assert operations["accounts.commands.receive"]["action"] == "receive"
    assert operations["accounts.events.send"]["action"] == "send"
    assert operations["payments.events.send"]["tags"] == [{"name": "payments"}]


def test_message_payload_is_the_envelope_around_its_schema() -> None:
    document = asyncapi.asyncapi()
    message = document["components"]["messages"]["accounts.ReserveFunds"]

    envelope, specific = message["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/Envelope"}
    assert specific["properties"]["type"] == {"const": "accounts.ReserveFunds"}
    assert specific["properties"]["data"] == {"$ref": "#/components/schemas/accounts.ReserveFunds"}
    assert "amount_minor" in document["components"]["schemas"]["accounts.ReserveFunds"]["properties"]


def test_refs_point_at_something_in_the_document() -> None:
    document = asyncapi.asyncapi()
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    for ref in refs:
        target: object = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, f"dangling $ref {ref}"
            target = target[part]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, "str"),
        (int | None, "int | None"),
        (list[str], "list[str]"),
        (Literal["buy", "sell"], "buy/sell"),
    ],
)
def test_type_name_reads_like_python(annotation: object, expected: str) -> None:
    assert asyncapi.type_name(annotation) == expected
