"""Schema compatibility: can a reader on one JSON Schema read every document a writer on
another produces? A structural check over the subset of JSON Schema that pydantic emits.

`reader_accepts(reader, writer)` answers "is every document valid under `writer` also valid
under `reader`?". It is conservative: what it cannot prove (a changed regex, a keyword it
does not know) is reported as an incompatibility. Annotations (title, description, default,
examples) do not change which documents are valid and are ignored.

One assumption, because our events are open content models (no `additionalProperties`,
unknown fields ignored): producers only write the fields their schema declares. A property
the writer's schema does not declare is therefore taken as absent from its data, not as
"anything". Without it no field could ever be added: JSON Schema alone lets an open writer
put any value under the new name. An explicit `additionalProperties` (a mapping, or a model
with `extra="allow"`) does mean the writer may send undeclared keys, and is checked as such.

The gate on event schemas is FULL compatibility, both directions named as Confluent does:

- BACKWARD: a consumer on the NEW schema reads data written with the OLD one. Kafka is our
  source of truth and read models are rebuilt by replaying topics from offset 0.
- FORWARD: a consumer still on the OLD schema reads data written with the NEW one: rolling
  deploys, and downstream consumers that upgrade late.
"""

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

Schema = dict[str, Any] | bool
"""A JSON Schema (sub)schema as parsed from JSON."""


class Direction(StrEnum):
    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"

    @property
    def meaning(self) -> str:
        """Who reads what; in an Incompatibility's reason, "reader" and "writer" follow this."""
        if self is Direction.BACKWARD:
            return "reader = new schema, writer = old data (a replay from offset 0)"
        return "reader = old schema, writer = new data (consumers not yet upgraded)"


@dataclass(frozen=True, slots=True)
class Incompatibility:
    path: str
    """Where in the document, e.g. `$.article.headlines[].value` (`[]` any item, `.*` any key)."""
    reason: str
    direction: Direction | None = None

    def __str__(self) -> str:
        prefix = f"{self.direction}: " if self.direction else ""
        return f"{prefix}{self.path}: {self.reason}"


def reader_accepts(reader: Schema, writer: Schema) -> list[Incompatibility]:
    """Every way a document valid under `writer` may be invalid under `reader`; [] if none."""
    return _Checker(reader, writer).accepts(reader, writer, "$")


def backward_incompatibilities(old: Schema, new: Schema) -> list[Incompatibility]:
    """BACKWARD: can a consumer on `new` read data written with `old`?"""
    return [replace(i, direction=Direction.BACKWARD) for i in reader_accepts(new, old)]


def forward_incompatibilities(old: Schema, new: Schema) -> list[Incompatibility]:
    """FORWARD: can a consumer still on `old` read data written with `new`?"""
    return [replace(i, direction=Direction.FORWARD) for i in reader_accepts(old, new)]


def full_incompatibilities(old: Schema, new: Schema) -> list[Incompatibility]:
    """FULL = BACKWARD and FORWARD: the rule for a new revision of an event schema."""
    return backward_incompatibilities(old, new) + forward_incompatibilities(old, new)


def incompatibilities(mode: str, old: Schema, new: Schema) -> list[Incompatibility]:
    """By an event's compatibility mode: FULL (the rule), or BACKWARD (a command with one
    reader that is upgraded before its writers)."""
    if mode == "BACKWARD":
        return backward_incompatibilities(old, new)
    return full_incompatibilities(old, new)


# Keywords with no effect on validity. `discriminator` is pydantic's OpenAPI hint beside oneOf.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
    | {"deprecated", "readOnly", "writeOnly", "discriminator"}
)
ASSERTIONS = frozenset(
    {"$ref", "type", "enum", "const", "anyOf", "oneOf", "format", "pattern", "minLength", "maxLength"}
    | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    | {"items", "minItems", "maxItems", "uniqueItems", "properties", "required", "additionalProperties"}
)
ALL_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})


def _assertions(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ANNOTATIONS}


def _merge(siblings: dict[str, Any], branch: Schema) -> Schema:
    """A union branch together with the keywords beside the union (pydantic: annotations)."""
    if branch is True:
        return siblings
    if branch is False:
        return False
    return {**siblings, **branch}


def _types(schema: dict[str, Any]) -> frozenset[str]:
    if "type" in schema:
        declared = schema["type"]
        return frozenset([declared] if isinstance(declared, str) else declared)
    if "const" in schema:
        return frozenset({_json_type(schema["const"])})
    if "enum" in schema:
        return frozenset(_json_type(v) for v in schema["enum"])
    return ALL_TYPES


def _type_accepted(writer_type: str, reader_types: frozenset[str]) -> bool:
    return writer_type in reader_types or (writer_type == "integer" and "number" in reader_types)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _has_ref(schema: object) -> bool:
    if isinstance(schema, dict):
        return "$ref" in schema or any(_has_ref(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_ref(v) for v in schema)
    return False


def _bound(
    schema: dict[str, Any], inclusive: str, exclusive: str, tighter: Callable[[Any, Any], bool]
) -> tuple[Any, bool] | None:
    """The tighter of e.g. minimum/exclusiveMinimum, as (value, is_exclusive); None if neither."""
    best: tuple[Any, bool] | None = None
    for keyword in (inclusive, exclusive):
        if keyword in schema:
            value, is_exclusive = schema[keyword], keyword == exclusive
            if best is None or tighter(value, best[0]) or (value == best[0] and is_exclusive):
                best = (value, is_exclusive)
    return best


class _Checker:
    def __init__(self, reader_root: Schema, writer_root: Schema) -> None:
        self._roots = {"reader": reader_root, "writer": writer_root}
        self._in_progress: set[tuple[str, str]] = set()

    def _resolve(self, schema: Schema, side: str) -> tuple[Schema | None, str]:
        """Follow local `$ref`s; returns the schema (None if unresolvable) and the last ref."""
        last_ref = ""
        hops = 0
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            hops += 1
            if not isinstance(ref, str) or not ref.startswith("#") or hops > 50:
                return None, ref
            target: Any = self._roots[side]
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    return None, ref
                target = target[part]
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            # A ref only names the same schema wherever it appears if nothing constrains it beside.
            last_ref = ref if not _assertions(siblings) else ""
            schema = _merge(siblings, target)
        return schema, last_ref

    def accepts(self, reader: Schema, writer: Schema, path: str) -> list[Incompatibility]:
        resolved_reader, reader_ref = self._resolve(reader, "reader")
        resolved_writer, writer_ref = self._resolve(writer, "writer")
        if resolved_reader is None:
            return [Incompatibility(path, f"cannot resolve the reader's $ref {reader_ref!r}")]
        if resolved_writer is None:
            return [Incompatibility(path, f"cannot resolve the writer's $ref {writer_ref!r}")]
        if not (reader_ref and writer_ref):
            return self._accepts(resolved_reader, resolved_writer, path)
        # Recursive models: while a pair of definitions is being compared, assume it compatible.
        pair = (reader_ref, writer_ref)
        if pair in self._in_progress:
            return []
        self._in_progress.add(pair)
        try:
            return self._accepts(resolved_reader, resolved_writer, path)
        finally:
            self._in_progress.discard(pair)

    def _accepts(self, reader: Schema, writer: Schema, path: str) -> list[Incompatibility]:
        if reader is True or (isinstance(reader, dict) and not _assertions(reader)) or writer is False:
            return []
        if reader is False:
            return [Incompatibility(path, "the reader accepts nothing here")]
        writer = {} if writer is True else writer
        if not _has_ref([reader, writer]) and _same(_assertions(reader), _assertions(writer)):
            return []
        unknown = [
            Incompatibility(path, f"the {side} uses {keyword!r}, which the check does not understand")
            for side, schema in (("reader", reader), ("writer", writer))
            for keyword in sorted(schema.keys() - ANNOTATIONS - ASSERTIONS)
        ]
        if unknown:
            return unknown
        for union in ("anyOf", "oneOf"):
            if union in writer:  # every value the writer may send, branch by branch
                siblings = {k: v for k, v in writer.items() if k != union}
                issues: list[Incompatibility] = []
                for branch in writer[union]:
                    issues += self.accepts(reader, _merge(siblings, branch), path)
                return issues
        if "enum" in writer or "const" in writer:
            return self._accepts_values(reader, writer, path)
        for union in ("anyOf", "oneOf"):
            if union in reader:
                return self._union_accepts(reader, union, writer, path)
        return self._accepts_plain(reader, writer, path)

    def _accepts_values(
        self, reader: dict[str, Any], writer: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        values = writer["enum"] if "enum" in writer else [writer["const"]]
        if "enum" in writer and "const" in writer:
            values = [v for v in values if _same(v, writer["const"])]
        issues = []
        for value in values:
            why = self._rejects(reader, value)
            if why:
                issues.append(Incompatibility(path, f"the writer may send {_show(value)}: {why}"))
        return issues

    def _union_accepts(
        self, reader: dict[str, Any], union: str, writer: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        siblings = {k: v for k, v in reader.items() if k != union}
        branches = [_merge(siblings, b) for b in reader[union]]
        results = [self.accepts(b, writer, path) for b in branches]
        accepting = [i for i, issues in enumerate(results) if not issues]
        if accepting and union == "anyOf":
            return []
        if accepting:
            chosen = accepting[0]
            if all(self._disjoint(branches[chosen], b) for i, b in enumerate(branches) if i != chosen):
                return []
            return [Incompatibility(path, "cannot prove the writer's value matches only one oneOf branch")]
        wtypes = _types(writer)
        candidates = [
            issues
            for branch, issues in zip(branches, results, strict=True)
            if wtypes & self._branch_types(branch)
        ]
        if len(candidates) == 1:  # the one branch meant for this type: its reasons are precise
            return candidates[0]
        return [Incompatibility(path, f"no branch of the reader's {union} accepts what the writer sends")]

    def _branch_types(self, branch: Schema) -> frozenset[str]:
        resolved, _ = self._resolve(branch, "reader")
        if isinstance(resolved, dict):
            return _types(resolved)
        return ALL_TYPES if resolved is True else frozenset()

    def _disjoint(self, first: Schema, second: Schema) -> bool:
        """Provably no value valid under both (different types, or different discriminators)."""
        a, _ = self._resolve(first, "reader")
        b, _ = self._resolve(second, "reader")
        if not isinstance(a, dict) or not isinstance(b, dict):
            return a is False or b is False
        ta, tb = _types(a), _types(b)
        if not any(_type_accepted(t, tb) for t in ta) and not any(_type_accepted(t, ta) for t in tb):
            return True
        shared = set(a.get("required", [])) & set(b.get("required", []))
        for name in shared:
            pa, _ = self._resolve(a.get("properties", {}).get(name, True), "reader")
            pb, _ = self._resolve(b.get("properties", {}).get(name, True), "reader")
            va, vb = _finite_values(pa), _finite_values(pb)
            if va is not None and vb is not None and not any(_same(x, y) for x in va for y in vb):
                return True
        return False

    def _accepts_plain(
        self, reader: dict[str, Any], writer: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        rtypes, wtypes = _types(reader), _types(writer)
        rejected = sorted(t for t in wtypes if not _type_accepted(t, rtypes))
        if rejected:
            expected = " or ".join(sorted(rtypes))
            sent = "anything" if wtypes == ALL_TYPES else " or ".join(sorted(wtypes))
            issues.append(
                Incompatibility(path, f"type: the reader expects {expected}, the writer may send {sent}")
            )
        wtypes = frozenset(t for t in wtypes if _type_accepted(t, rtypes))
        if "enum" in reader or "const" in reader:
            allowed = reader["enum"] if "enum" in reader else [reader["const"]]
            issues.append(
                Incompatibility(path, f"the reader accepts only {_show(allowed)}, the writer any value")
            )
        if "string" in wtypes:
            issues += _string_issues(reader, writer, path)
        if wtypes & {"integer", "number"}:
            issues += _number_issues(reader, writer, path)
        if "array" in wtypes:
            issues += self._array_issues(reader, writer, path)
        if "object" in wtypes:
            issues += self._object_issues(reader, writer, path)
        return issues

    def _array_issues(
        self, reader: dict[str, Any], writer: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        issues = self.accepts(reader.get("items", True), writer.get("items", True), f"{path}[]")
        issues += _size_issues(reader, writer, path, "minItems", "maxItems", "items")
        if reader.get("uniqueItems") and not writer.get("uniqueItems"):
            issues.append(
                Incompatibility(path, "uniqueItems: the reader requires unique items, the writer not")
            )
        return issues

    def _object_issues(
        self, reader: dict[str, Any], writer: dict[str, Any], path: str
    ) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        rprops: dict[str, Schema] = reader.get("properties", {})
        wprops: dict[str, Schema] = writer.get("properties", {})
        wrequired = set(writer.get("required", []))
        # Absent = open model: only declared fields are written (see the module docstring).
        wextra: Schema | None = writer.get("additionalProperties")
        rextra: Schema = reader.get("additionalProperties", True)
        for name in sorted(set(reader.get("required", [])) - wrequired):
            if name in wprops or wextra not in (None, False):
                why = "required by the reader; the writer may leave it out"
            else:
                why = "required by the reader; the writer does not send it"
            issues.append(Incompatibility(f"{path}.{name}", why))
        for name, wprop in wprops.items():
            if name in rprops:
                issues += self.accepts(rprops[name], wprop, f"{path}.{name}")
            elif rextra is False:
                why = "the writer may send it; the reader forbids undeclared properties"
                issues.append(Incompatibility(f"{path}.{name}", why))
            else:
                issues += self.accepts(rextra, wprop, f"{path}.{name}")
        if wextra is not None and wextra is not False:  # the writer sends undeclared keys too
            for name, rprop in rprops.items():
                if name not in wprops:
                    issues += self.accepts(rprop, wextra, f"{path}.{name}")
            if rextra is False:
                why = "the writer may send undeclared properties; the reader forbids them"
                issues.append(Incompatibility(f"{path}.*", why))
            else:
                issues += self.accepts(rextra, wextra, f"{path}.*")
        return issues

    def _rejects(self, reader: Schema, value: object) -> str:
        """Why `reader` rejects one concrete value (from the writer's enum/const); '' if it accepts it."""
        resolved, ref = self._resolve(reader, "reader")
        if resolved is None:
            return f"cannot resolve the reader's $ref {ref!r}"
        if resolved is True or resolved is False:
            return "" if resolved else "the reader accepts nothing here"
        schema = resolved
        unknown = sorted(schema.keys() - ANNOTATIONS - ASSERTIONS)
        if unknown:
            return f"the reader uses {unknown[0]!r}, which the check does not understand"
        if "anyOf" in schema or "oneOf" in schema:
            union = "anyOf" if "anyOf" in schema else "oneOf"
            siblings = {k: v for k, v in schema.items() if k != union}
            matches = sum(not self._rejects(_merge(siblings, b), value) for b in schema[union])
            if matches == 0 or (union == "oneOf" and matches > 1):
                return f"it matches {matches} branches of the reader's {union}"
            return ""
        if "type" in schema and not _type_accepted(_json_type(value), _types(schema)):
            return f"the reader expects {' or '.join(sorted(_types(schema)))}"
        if "enum" in schema and not any(_same(value, v) for v in schema["enum"]):
            return f"the reader accepts only {_show(schema['enum'])}"
        if "const" in schema and not _same(value, schema["const"]):
            return f"the reader accepts only {_show(schema['const'])}"
        if isinstance(value, str):
            return _string_rejects(schema, value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _number_rejects(schema, value)
        if isinstance(value, list | dict):
            return (
                ""
                if _same(_assertions(schema), {"type": _json_type(value)})
                else "cannot check a structured value"
            )
        return ""


def _finite_values(schema: Schema | None) -> list[Any] | None:
    if isinstance(schema, dict) and "const" in schema:
        return [schema["const"]]
    if isinstance(schema, dict) and "enum" in schema:
        return list(schema["enum"])
    return None


def _string_issues(reader: dict[str, Any], writer: dict[str, Any], path: str) -> list[Incompatibility]:
    issues = _size_issues(reader, writer, path, "minLength", "maxLength", "characters")
    for keyword in ("pattern", "format"):
        if keyword in reader and reader[keyword] != writer.get(keyword):
            sent = f"{keyword} {_show(writer[keyword])}" if keyword in writer else f"no {keyword}"
            why = f"{keyword}: the reader requires {_show(reader[keyword])}, the writer has {sent}"
            issues.append(Incompatibility(path, why))
    return issues


def _size_issues(
    reader: dict[str, Any], writer: dict[str, Any], path: str, low: str, high: str, unit: str
) -> list[Incompatibility]:
    issues = []
    if writer.get(low, 0) < reader.get(low, 0):
        why = f"{low}: the reader needs at least {reader[low]} {unit}, the writer allows {writer.get(low, 0)}"
        issues.append(Incompatibility(path, why))
    if high in reader and (high not in writer or writer[high] > reader[high]):
        sent = writer.get(high, "any number")
        issues.append(
            Incompatibility(path, f"{high}: the reader allows {reader[high]} {unit}, the writer {sent}")
        )
    return issues


def _number_issues(reader: dict[str, Any], writer: dict[str, Any], path: str) -> list[Incompatibility]:
    issues = []
    for inclusive, exclusive, tighter in (
        ("minimum", "exclusiveMinimum", operator.gt),
        ("maximum", "exclusiveMaximum", operator.lt),
    ):
        rbound = _bound(reader, inclusive, exclusive, tighter)
        if rbound is None:
            continue
        wbound = _bound(writer, inclusive, exclusive, tighter)
        if wbound is not None and (
            tighter(wbound[0], rbound[0]) or (wbound[0] == rbound[0] and (wbound[1] or not rbound[1]))
        ):
            continue
        wants = f"{'exclusive ' if rbound[1] else ''}{inclusive} {rbound[0]}"
        has = f"{'exclusive ' if wbound[1] else ''}{inclusive} {wbound[0]}" if wbound else f"no {inclusive}"
        issues.append(
            Incompatibility(path, f"{inclusive}: the reader requires {wants}, the writer has {has}")
        )
    if "multipleOf" in reader:
        step = Fraction(str(reader["multipleOf"]))
        wstep = Fraction(str(writer["multipleOf"])) if "multipleOf" in writer else None
        if wstep is None or (wstep / step).denominator != 1:
            sent = writer.get("multipleOf", "none")
            why = (
                f"multipleOf: the reader requires multiples of {reader['multipleOf']}, the writer has {sent}"
            )
            issues.append(Incompatibility(path, why))
    return issues


def _string_rejects(schema: dict[str, Any], value: str) -> str:
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
        return "its length is outside the reader's minLength/maxLength"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"it does not match the reader's pattern {_show(schema['pattern'])}"
    if "format" in schema:
        return f"cannot check the reader's format {_show(schema['format'])}"
    return ""


def _number_rejects(schema: dict[str, Any], value: float) -> str:
    checks = (
        ("minimum", lambda b: value >= b),
        ("exclusiveMinimum", lambda b: value > b),
        ("maximum", lambda b: value <= b),
        ("exclusiveMaximum", lambda b: value < b),
        ("multipleOf", lambda b: (Fraction(str(value)) / Fraction(str(b))).denominator == 1),
    )
    for keyword, holds in checks:
        if keyword in schema and not holds(schema[keyword]):
            return f"the reader requires {keyword} {schema[keyword]}"
    return ""
