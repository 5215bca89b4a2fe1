"""The AsyncAPI 3.0 document and the events catalogue, generated from `shared.events`.

    sandbank asyncapi            # print docs/asyncapi.json's content
    sandbank asyncapi --write    # write docs/asyncapi.json and docs/events.md
    sandbank asyncapi --check    # fail when either is stale

Channels are the topics (and their `.dlq`); messages are the registered `Message`
models inside the envelope; the owning service is the topic's prefix: it sends on
`<service>.events` and receives on `<service>.commands`. Each message's headers name the
processes that may sign it (`Message.senders()`, shared/kafka/signing.py). The output is sorted, so a
regeneration changes the files only when a schema changed; tests/unit/tools/test_asyncapi.py
fails when the checked-in files are stale (`make asyncapi`).
"""

from __future__ import annotations

import json
import types
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from shared.events import REGISTRY, Envelope, Message, topics
from shared.kafka import signing

ASYNCAPI_VERSION = "3.0.0"
# Bumped by hand when the document's shape (not a schema) changes; schemas carry VERSION.
DOCUMENT_VERSION = "1.1.0"
KAFKA_BINDING_VERSION = "0.5.0"
DOCS = Path(__file__).resolve().parent.parent / "docs"
ASYNCAPI_PATH = DOCS / "asyncapi.json"
EVENTS_PATH = DOCS / "events.md"
SCHEMA_REF = "#/components/schemas/{model}"


owner = topics.owner


def messages() -> list[type[Message]]:
    """The registered messages of `shared.events`, by type name (test models are left out)."""
    return sorted(
        (m for m in REGISTRY.values() if m.__module__.startswith("shared.events.")),
        key=lambda m: m.TYPE,
    )


def by_topic() -> dict[str, list[type[Message]]]:
    """Every known topic, with its messages (a topic may have none yet)."""
    grouped: dict[str, list[type[Message]]] = {t: [] for t in topics.ALL}
    for model in messages():
        grouped.setdefault(model.TOPIC, []).append(model)
    return dict(sorted(grouped.items()))


def key_template(model: type[Message]) -> str:
    """What `key()` returns, with each field's name in braces: `{account_id}`."""
    placeholders: dict[str, Any] = {name: f"{{{name}}}" for name in model.model_fields}
    sample = model.model_construct(**placeholders)
    try:
        return str(sample.key())
    except Exception:  # a key built from non-text fields cannot be read this way
        return ""


def _summary(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__") or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


# --- the AsyncAPI document ------------------------------------------------------------------


def _envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(ref_template=SCHEMA_REF)
    schema["description"] = (
        "The CloudEvents-shaped envelope every message travels in; `data` holds the typed payload. "
        "`subject` is the partition key, `causation_id` the id of the message that caused this one."
    )
    # On the wire every field is present (null where unset), whatever its default.
    schema["required"] = list(schema["properties"])
    return schema


def _message_schema(model: type[Message], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    for name, nested in schema.pop("$defs", {}).items():
        if schemas.setdefault(name, nested) != nested:
            raise ValueError(f"two different schemas are named {name}")
    return schema


def _headers(model: type[Message]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": model.TYPE, "description": "The envelope's type, to skip unparsed."},
            "correlation-id": {"type": "string", "description": "The envelope's correlation_id, when set."},
            signing.SIGNER: {
                "type": "string",
                "enum": sorted(model.senders()),
                "description": "The process that sent the message: one that may send it, and the envelope's "
                "`source`. Anything else is dead-lettered unapplied.",
            },
            signing.MACS: {
                "type": "string",
                "pattern": "^[a-z0-9-]+=[A-Za-z0-9+/]+=*(,[a-z0-9-]+=[A-Za-z0-9+/]+=*)*$",
                "description": "One tag per process of the stack, `<process>=<base64>` joined by commas: "
                "keyed BLAKE2b (RFC 7693, 128 bits) over `sandbank-message-v1 NUL topic NUL key NUL value` "
                "under the link key the signer shares with that process "
                "(docs/adr/0020-message-macs-over-link-keys.md).",
            },
        },
        "required": ["type", signing.SIGNER, signing.MACS],
    }


def _component_message(model: type[Message]) -> dict[str, Any]:
    key = key_template(model)
    message: dict[str, Any] = {
        "name": model.TYPE,
        "title": model.__name__,
        "contentType": "application/json",
        "headers": _headers(model),
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": model.TYPE},
                        "version": {"const": model.VERSION},
                        "data": {"$ref": SCHEMA_REF.format(model=model.TYPE)},
                    },
                },
            ]
        },
        "correlationId": {"location": "$message.payload#/correlation_id"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"Partition key: {key}" if key else "Partition key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    if summary := _summary(model):
        message["summary"] = summary
    return message


def _channel(topic: str, models: list[type[Message]], *, dead_letters: bool) -> dict[str, Any]:
    service = owner(topic)
    base = topic.removesuffix(".dlq")
    if dead_letters:
        description = (
            f"Messages from `{base}` that a consumer could not apply after its retries, could not decode, or "
            "refused for their sender (`error` starts `untrusted-sender:`): the original key, value and "
            "headers plus an `error` and a `consumer` header. The copy is signed by the consumer's process; "
            "the sender's `signer` and `macs` travel as `original-signer` and `original-macs`. "
            "The consumer also keeps each one, with its headers, in its service's `dead_letter` table."
        )
    elif topic.endswith(".commands"):
        description = f"Requests to {service} (imperative), keyed by the aggregate they change; {service} acts on them."
    else:
        description = f"Facts from {service}, past tense; any service may consume them."
    return {
        "address": topic,
        "title": topic,
        "description": description,
        "messages": {m.TYPE: {"$ref": f"#/components/messages/{m.TYPE}"} for m in models},
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operation(topic: str, models: list[type[Message]]) -> tuple[str, dict[str, Any]]:
    service = owner(topic)
    action = "receive" if topic.endswith(".commands") else "send"
    summary = (
        f"{service} applies the commands sent to it"
        if action == "receive"
        else f"{service} publishes its facts (through its outbox)"
    )
    return f"{topic}.{action}", {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic}"},
        "summary": summary,
        "tags": [{"name": service}],
        "messages": [{"$ref": f"#/channels/{topic}/messages/{m.TYPE}"} for m in models],
    }


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and registered message."""
    grouped = by_topic()
    schemas: dict[str, Any] = {}
    payloads = {m.TYPE: _message_schema(m, schemas) for m in messages()}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, models in grouped.items():
        channels[topic] = _channel(topic, models, dead_letters=False)
        channels[topics.dlq(topic)] = _channel(topics.dlq(topic), models, dead_letters=True)
        if models:
            op_id, operation = _operation(topic, models)
            operations[op_id] = operation
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Sandbank events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Every Kafka message of Sandbank: one JSON envelope per message, the typed payload in `data`. "
                "Topics are `<service>.events` (facts, past tense) and `<service>.commands` (requests to one "
                "owner, imperative); the key is the aggregate whose order matters. Generated from "
                "`shared/events` by `make asyncapi`; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The embedded Tansu broker of `make run`: a free loopback port, "
                "named in the banner and in .data/run.json.",
            },
            "compose": {
                "host": "127.0.0.1:9094",
                "protocol": "kafka",
                "description": "Apache Kafka of `docker compose up`, from the host (kafka:9092 inside).",
            },
        },
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {
            "schemas": dict(sorted({"Envelope": _envelope_schema(), **schemas, **payloads}.items())),
            "messages": {m.TYPE: _component_message(m) for m in messages()},
        },
    }


def render_asyncapi() -> str:
    return json.dumps(asyncapi(), indent=2, ensure_ascii=False) + "\n"


# --- the human catalogue ---------------------------------------------------------------------


def type_name(annotation: Any) -> str:
    """A field's type as a reader wants it: `str | None`, `buy/sell`, `list[str]`."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return "/".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    if annotation in (datetime, date):
        return annotation.__name__
    return getattr(annotation, "__name__", str(annotation))


def _fields(model: type[Message]) -> str:
    parts = []
    for name, info in model.model_fields.items():
        text = f"{name}: {type_name(info.annotation)}"
        if info.default is not PydanticUndefined:
            text += f" = {json.dumps(info.default, default=str)}"
        parts.append(f"`{text}`")
    return ", ".join(parts).replace("|", "\\|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_events_md() -> str:
    """docs/events.md: one table per topic, one line per message."""
    lines = [
        "# Events catalogue",
        "",
        "<!-- Generated by `make asyncapi` (sandbank asyncapi --write) from shared/events. Do not edit. -->",
        "",
        "Every message travels in one JSON envelope: `id`, `type`, `version`, `source` (the sending "
        "service), `time`, `subject` (the partition key), `correlation_id`, `causation_id`, and `data`, "
        "the payload whose fields are listed below. Kafka headers carry `type` and `correlation-id`, "
        "and `signer` and `macs`: the process that sent it and one tag per process of the stack over the "
        "topic, key and value, each under the key the signer shares with that process alone. A consumer "
        "applies a message only if its own tag verifies, and its signer is one of the type's senders "
        "(below) and its `source` (docs/adr/0011-message-signatures.md, "
        "docs/adr/0020-message-macs-over-link-keys.md). "
        "A message no consumer can apply after its retries, or refused for its sender, goes to `<topic>.dlq`. "
        "The machine-readable form is [asyncapi.json](asyncapi.json) (AsyncAPI 3.0).",
        "",
        "Money fields are integer minor units (`*_minor`, fen); prices in securities are milli-yuan "
        "(`*_milli`). A field shown with `= value` may be left out and takes that value.",
        "",
    ]
    for topic, models in by_topic().items():
        service = owner(topic)
        role = "consumes these requests" if topic.endswith(".commands") else "publishes these facts"
        lines += [f"## {topic}", "", f"Owner: {service}, which {role}. Dead letters: `{topics.dlq(topic)}`.", ""]
        if not models:
            lines += ["No messages yet.", ""]
            continue
        lines += ["| type | version | senders | key | fields | about |", "|---|---|---|---|---|---|"]
        for model in models:
            key = key_template(model)
            lines.append(
                f"| `{model.TYPE}` | {model.VERSION} | {', '.join(sorted(model.senders()))} "
                f"| {f'`{key}`' if key else ''} | {_fields(model)} | {_cell(_summary(model))} |"
            )
        lines.append("")
    return "\n".join(lines)


def rendered() -> dict[Path, str]:
    """Each generated file with the content the schemas give it."""
    return {ASYNCAPI_PATH: render_asyncapi(), EVENTS_PATH: render_events_md()}


def write() -> list[Path]:
    files = rendered()
    DOCS.mkdir(exist_ok=True)
    for path, content in files.items():
        path.write_text(content, encoding="utf-8")
    return list(files)


def stale() -> list[Path]:
    """The generated files whose checked-in content no longer matches the schemas."""
    return [
        path for path, content in rendered().items() if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
