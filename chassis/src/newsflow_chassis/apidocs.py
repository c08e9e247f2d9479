"""The API documents of a service, generated from its FastAPI app and FastStream broker:
OpenAPI for HTTP, AsyncAPI 3.0 for Kafka. Both are committed and checked for staleness."""

import json
from typing import Any

from fastapi import FastAPI
from faststream.specification import AsyncAPI
from newsflow_contracts import cloudevents as ce
from newsflow_contracts.events import EVENTS, Event
from newsflow_contracts.topics import ALL_TOPICS

_EVENTS_BY_TOPIC: dict[str, type[Event]] = {
    topic.name: event for topic in ALL_TOPICS for event in EVENTS if event.event_type == topic.event_type
}


def openapi(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def asyncapi(app: FastAPI) -> dict[str, Any]:
    """AsyncAPI 3.0 of the app's broker, with what FastStream cannot know added to every
    message: the CloudEvents headers (binary content mode) and the record key."""
    spec = AsyncAPI(
        app.state.broker,
        title=app.title,
        version=app.version,
        description=app.description or None,
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = spec.to_jsonable()
    components = document.setdefault("components", {})
    for channel in document.get("channels", {}).values():
        event = _EVENTS_BY_TOPIC.get(channel["address"])
        for reference in channel.get("messages", {}).values():
            message = components["messages"][reference["$ref"].rsplit("/", 1)[-1]]
            if event is not None:
                _describe_event(message, event)
    _drop_unreferenced_schemas(document)
    _sort_entries(document, "channels", "operations")
    _sort_entries(components, "messages", "schemas")
    return document


def _describe_event(message: dict[str, Any], event: type[Event]) -> None:
    """The topic's event (FastStream would give a union when a handler reads several
    topics), its CloudEvents headers and its record key."""
    message["payload"] = {"$ref": f"#/components/schemas/{event.__name__}"}
    message["contentType"] = ce.CONTENT_TYPE
    message["headers"] = cloudevents_headers(event.event_type)
    message["bindings"] = {
        "kafka": {
            "key": {"type": "string", "description": "The article id: one article's events stay in order."},
            "bindingVersion": "0.5.0",
        }
    }


def _drop_unreferenced_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"].get("schemas", {})
    while True:
        text = json.dumps({k: v for k, v in document.items() if k != "components"})
        text += json.dumps(document["components"].get("messages", {}))
        text += json.dumps(schemas)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _sort_entries(mapping: dict[str, Any], *names: str) -> None:
    """FastStream's order follows a set of subscribers: sort it, so regeneration is stable."""
    for name in names:
        if name in mapping:
            mapping[name] = dict(sorted(mapping[name].items()))


def cloudevents_headers(event_type: str) -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka binary content mode.",
        "required": [ce.HEADER_ID, ce.HEADER_TYPE, ce.HEADER_SOURCE, ce.HEADER_SPECVERSION, ce.HEADER_TIME],
        "properties": {
            ce.HEADER_ID: {**text, "description": "Unique per event; a redelivered record keeps it."},
            ce.HEADER_TYPE: {**text, "const": event_type},
            ce.HEADER_SOURCE: {**text, "description": "The producing service, e.g. /newsflow/ingest."},
            ce.HEADER_TIME: {**text, "format": "date-time"},
            ce.HEADER_SPECVERSION: {**text, "const": ce.SPEC_VERSION},
            ce.HEADER_SUBJECT: {**text, "description": "The article id."},
            ce.HEADER_CONTENT_TYPE: {**text, "const": ce.CONTENT_TYPE},
            ce.HEADER_TRACEPARENT: {
                **text,
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C traceparent (CloudEvents distributed tracing extension): the "
                "trace ingest started when it accepted the article, continued by every service.",
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
