"""The JSON Schema of an event's serialised form, as it travels on Kafka.

Events are serialised with `model_dump(mode="json", by_alias=True, exclude_none=True)`, so
the schema is pydantic's serialization-mode schema with aliases, with one change that
`exclude_none` implies: a field whose value may be None is absent, never null. Such a
property loses its `null` branch (and its `default: null`) and is never `required`.
"""

import json
from typing import Any

from ..events import Event

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://newsflow.example/schemas/events"


def event_schema(event: type[Event]) -> dict[str, Any]:
    """The schema of `event` without `$id` (which names a committed revision, see `with_id`)."""
    schema: dict[str, Any] = _absent_not_null(event.model_json_schema(by_alias=True, mode="serialization"))
    description = schema.pop("description", None) or f"The data of a {event.event_type} CloudEvent."
    return {
        "$schema": DIALECT,
        "title": schema.pop("title", event.__name__),
        "description": description,
    } | schema


def schema_id(event_type: str, revision: int) -> str:
    return f"{ID_BASE}/{event_type}/{revision}.json"


def with_id(schema: dict[str, Any], event_type: str, revision: int) -> dict[str, Any]:
    return {"$id": schema_id(event_type, revision)} | {k: v for k, v in schema.items() if k != "$id"}


def without_id(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$id"}


def render(schema: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _is_null(schema: object) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _absent_not_null(schema: Any) -> Any:
    """Recursively rewrite every object's properties for `exclude_none`; sort `required`."""
    if isinstance(schema, list):
        return [_absent_not_null(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    # Keyword-aware recursion: the keys of `properties` and `$defs` are names, not keywords.
    rewritten = {
        key: {name: _absent_not_null(sub) for name, sub in value.items()}
        if key in ("properties", "$defs") and isinstance(value, dict)
        else _absent_not_null(value)
        for key, value in schema.items()
    }
    if not isinstance(rewritten.get("properties"), dict):
        return rewritten
    properties: dict[str, Any] = {}
    optional: set[str] = set()
    for name, prop in rewritten["properties"].items():
        non_null = _without_null(prop)
        if non_null is not prop:
            optional.add(name)
        if non_null is not None:
            properties[name] = non_null
    rewritten["properties"] = properties
    if "required" in rewritten:
        rewritten["required"] = sorted(set(rewritten["required"]) - optional)
    return rewritten


def _without_null(prop: Any) -> Any:
    """`prop` itself if it never admits null; a copy without null; None if it is only null."""
    if not isinstance(prop, dict):
        return prop
    if _is_null(prop) or prop.get("type") == "null":
        return None
    branches = prop.get("anyOf")
    if not isinstance(branches, list) or not any(_is_null(b) for b in branches):
        return prop
    rest = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    kept = [b for b in branches if not _is_null(b)]
    if not kept:
        return None
    return rest | kept[0] if len(kept) == 1 else rest | {"anyOf": kept}
