"""The committed event JSON Schemas: current, FULL-compatible over their history, valid for
real serialised events, and a compatibility check that provably rejects breaking changes."""

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from newsflow_contracts.compatibility import (
    Direction,
    Schema,
    backward_incompatibilities,
    forward_incompatibilities,
    full_incompatibilities,
    incompatibilities,
    reader_accepts,
)
from newsflow_contracts.events import (
    EVENTS,
    ArticleContent,
    ArticleEnriched,
    ArticleIngested,
    ArticlePublished,
    ArticleRetracted,
    ArticleSubmitted,
    EnricherRun,
    Enrichment,
    Event,
    Image,
    PageViewRecorded,
    SubmittedImage,
)
from newsflow_contracts.schemas import (
    EVENTS_DIR,
    Status,
    committed_event_types,
    event_schema,
    load,
    plan,
    render,
    revisions,
    schema_id,
)
from newsflow_contracts.schemas.__main__ import main
from newsflow_publication.domain.articles import publish
from pydantic import Field, create_model

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
EVENT_IDS = [event.event_type for event in EVENTS]


# -- the committed schemas are current ------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS, ids=EVENT_IDS)
def test_committed_schema_is_the_models_schema(event: type[Event]) -> None:
    assert revisions(EVENTS_DIR, event.event_type), (
        f"no committed schema for {event.event_type}: run `make schemas`"
    )
    current = plan(event)
    assert current.status is Status.CURRENT, (
        f"{event.event_type}: the model's schema differs from {current.path.parent}/"
        f"{len(revisions(EVENTS_DIR, event.event_type))}.json; run `make schemas` and commit the new revision"
    )


def test_every_committed_schema_has_an_event_and_every_event_a_schema() -> None:
    assert committed_event_types(EVENTS_DIR) == set(EVENT_IDS)


def test_the_check_mode_agrees() -> None:
    assert main(["--check"]) == 0


# -- the gate holds over the committed history -----------------------------------------------


MODES = {event.event_type: event.compatibility for event in EVENTS}


@pytest.mark.parametrize("event_type", sorted(committed_event_types(EVENTS_DIR)))
def test_each_revision_is_compatible_with_the_one_before_in_its_mode(event_type: str) -> None:
    history = revisions(EVENTS_DIR, event_type)
    schemas = [load(path) for path in history]
    for n, (path, schema) in enumerate(zip(history, schemas, strict=True), start=1):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == schema_id(event_type, n)
        assert schema["title"] and schema["description"]
        assert path.read_text(encoding="utf-8") == render(schema), f"{path} is not in canonical form"
    for n, (old, new) in enumerate(pairwise(schemas), start=1):
        issues = incompatibilities(MODES[event_type], old, new)
        assert issues == [], f"{n + 1}.json breaks {n}.json: {[str(i) for i in issues]}"
        if MODES[event_type] == "BACKWARD":
            assert event_type == "news.article.submitted.v1"  # the one command with a closed schema


# -- the check rejects breaking changes, with a precise path ---------------------------------


def changed(event: type[Event], **fields: Any) -> type[Event]:
    """`event` with fields added or replaced (same name and event type)."""
    variant: type[Event] = create_model(event.__name__, __base__=event, __doc__=event.__doc__, **fields)
    return variant


def without(event: type[Event], *names: str) -> type[Event]:
    """`event` with fields removed (same name, config and event type)."""
    fields: Any = {name: (f.annotation, f) for name, f in event.model_fields.items() if name not in names}
    variant: Any = create_model(
        event.__name__, __config__=event.model_config, __doc__=event.__doc__, **fields
    )
    variant.event_type = event.event_type
    variant.compatibility = event.compatibility
    return variant  # type: ignore[no-any-return]


EnrichmentWithTextCount = create_model(
    "Enrichment", __base__=Enrichment, word_count=(str | None, Field(default=None))
)

BREAKING: list[tuple[str, type[Event], type[Event], set[tuple[Direction, str]], str]] = [
    (
        "new required field",
        ArticlePublished,
        changed(ArticlePublished, priority=(int, Field(description="Front-page rank."))),
        {(Direction.BACKWARD, "$.priority")},
        "required by the reader; the writer does not send it",
    ),
    (
        "required field removed",
        ArticlePublished,
        without(ArticlePublished, "slug"),
        {(Direction.FORWARD, "$.slug")},
        "required by the reader; the writer does not send it",
    ),
    (
        "required field made optional",
        ArticlePublished,
        changed(ArticlePublished, slug=(str | None, None)),
        {(Direction.FORWARD, "$.slug")},
        "the writer may leave it out",
    ),
    (
        "optional field made required",
        ArticlePublished,
        changed(ArticlePublished, section=(str, Field(description="Site section."))),
        {(Direction.BACKWARD, "$.section")},
        "the writer may leave it out",
    ),
    (
        "type changed",
        ArticlePublished,
        changed(ArticlePublished, version=(str, Field(description="Published version."))),
        {(Direction.BACKWARD, "$.version"), (Direction.FORWARD, "$.version")},
        "type: the reader expects",
    ),
    (
        "nested type changed",
        ArticlePublished,
        changed(ArticlePublished, enrichment=(EnrichmentWithTextCount, ...)),
        {(Direction.BACKWARD, "$.enrichment.word_count"), (Direction.FORWARD, "$.enrichment.word_count")},
        "type: the reader expects",
    ),
    (
        "minimum raised",
        ArticlePublished,
        changed(ArticlePublished, version=(int, Field(ge=2))),
        {(Direction.BACKWARD, "$.version")},
        "minimum: the reader requires minimum 2, the writer has minimum 1",
    ),
    (
        "enum narrowed",
        ArticleRetracted,
        changed(ArticleRetracted, kind=(Literal["unpublish", "kill"], ...)),
        {(Direction.BACKWARD, "$.kind")},
        'the writer may send "takedown"',
    ),
    (
        "enum widened",
        ArticleRetracted,
        changed(ArticleRetracted, kind=(Literal["unpublish", "kill", "takedown", "expire"], ...)),
        {(Direction.FORWARD, "$.kind")},
        'the writer may send "expire"',
    ),
    (
        "maxLength tightened",
        ArticleRetracted,
        changed(ArticleRetracted, reason=(str, Field(min_length=1, max_length=1000))),
        {(Direction.BACKWARD, "$.reason")},
        "maxLength: the reader allows 1000 characters, the writer 2000",
    ),
    (
        # A changed regex cannot be proven either way, so both directions are reported.
        "pattern tightened",
        ArticleSubmitted,
        changed(
            ArticleSubmitted, section=(str | None, Field(default=None, max_length=100, pattern=r"^[a-z]+$"))
        ),
        {(Direction.BACKWARD, "$.section"), (Direction.FORWARD, "$.section")},
        "pattern: the reader requires",
    ),
    (
        "field added to a closed model",
        ArticleSubmitted,
        changed(ArticleSubmitted, priority=(int | None, None)),
        {(Direction.FORWARD, "$.priority")},
        "the reader forbids undeclared properties",
    ),
    (
        "field removed from a closed model",
        ArticleSubmitted,
        without(ArticleSubmitted, "byline"),
        {(Direction.BACKWARD, "$.byline")},
        "the reader forbids undeclared properties",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected", "reason"), [b[1:] for b in BREAKING], ids=[b[0] for b in BREAKING]
)
def test_breaking_change_is_rejected_with_its_path(
    old: type[Event], new: type[Event], expected: set[tuple[Direction, str]], reason: str
) -> None:
    issues = full_incompatibilities(event_schema(old), event_schema(new))
    assert {(i.direction, i.path) for i in issues} == expected, [str(i) for i in issues]
    assert any(reason in i.reason for i in issues), [str(i) for i in issues]


COMPATIBLE: list[tuple[str, type[Event], type[Event]]] = [
    ("unchanged", ArticlePublished, changed(ArticlePublished)),
    ("new optional field", ArticlePublished, changed(ArticlePublished, priority=(int | None, None))),
    ("new field with a default", ArticlePublished, changed(ArticlePublished, tags=(list[str], []))),
    ("optional field removed", ArticlePublished, without(ArticlePublished, "canonical_url")),
    (
        "description changed",
        ArticleRetracted,
        changed(ArticleRetracted, reason=(str, Field(min_length=1, max_length=2000))),
    ),
    ("nullable to defaulted", ArticlePublished, changed(ArticlePublished, section=(str, ""))),
]


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in COMPATIBLE], ids=[c[0] for c in COMPATIBLE])
def test_compatible_change_is_accepted_both_ways(old: type[Event], new: type[Event]) -> None:
    issues = full_incompatibilities(event_schema(old), event_schema(new))
    assert issues == [], [str(i) for i in issues]


def test_directions_are_named_for_who_reads_what() -> None:
    old = event_schema(ArticlePublished)
    new = event_schema(changed(ArticlePublished, priority=(int, ...)))
    assert [i.direction for i in backward_incompatibilities(old, new)] == [Direction.BACKWARD]
    assert forward_incompatibilities(old, new) == []
    # BACKWARD is "the new schema reads old data": the reader is `new`.
    assert [i.path for i in reader_accepts(new, old)] == ["$.priority"]


# -- reader_accepts on small hand-written schemas --------------------------------------------

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"anyOf": [{"type": "string"}, {"type": "null"}]}


def obj(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], **extra}


ACCEPTED: list[tuple[str, Schema, Schema]] = [
    ("same", STRING, STRING),
    ("anything reads anything", {}, {"type": "integer"}),
    ("integer is a number", {"type": "number"}, {"type": "integer"}),
    ("union reader", NULLABLE_STRING, STRING),
    ("looser bounds", {"type": "integer", "minimum": 0}, {"type": "integer", "exclusiveMinimum": 0}),
    ("shorter strings", {"type": "string", "maxLength": 10}, {"type": "string", "maxLength": 5}),
    ("enum values checked", {"type": "string", "maxLength": 1}, {"type": "string", "enum": ["a", "b"]}),
    ("enum subset", {"enum": ["a", "b", "c"]}, {"const": "b"}),
    ("format dropped", STRING, {"type": "string", "format": "date-time"}),
    ("open reader, extra writer field", obj({}), obj({"x": STRING}, ["x"])),
    ("undeclared by the writer = absent", obj({"x": STRING}), obj({})),
    (
        "writer is closed",
        obj({"x": STRING}, additionalProperties=False),
        obj({"x": STRING}, additionalProperties=False),
    ),
    (
        "mapping values widen",
        {"type": "object", "additionalProperties": {"type": "number"}},
        {"type": "object", "additionalProperties": {"type": "integer"}},
    ),
    (
        "discriminated oneOf",
        {
            "oneOf": [
                obj({"k": {"const": "a"}}, ["k"]),
                obj({"k": {"const": "b"}, "n": {"type": "integer"}}, ["k"]),
            ]
        },
        obj({"k": {"const": "a"}}, ["k"]),
    ),
]


@pytest.mark.parametrize(("reader", "writer"), [a[1:] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_reader_accepts(reader: Schema, writer: Schema) -> None:
    assert reader_accepts(reader, writer) == []


REJECTED: list[tuple[str, Schema, Schema, str, str]] = [
    ("number is not an integer", {"type": "integer"}, {"type": "number"}, "$", "type"),
    ("null is not a string", STRING, NULLABLE_STRING, "$", "the writer may send null"),
    ("open-ended writer", {"type": "string", "maxLength": 5}, STRING, "$", "maxLength"),
    (
        "exclusive is tighter",
        {"type": "integer", "exclusiveMinimum": 0},
        {"type": "integer", "minimum": 0},
        "$",
        "minimum",
    ),
    ("any string vs enum", {"enum": ["a"]}, STRING, "$", "accepts only"),
    ("enum value too long", {"type": "string", "maxLength": 1}, {"enum": ["a", "bb"]}, "$", '"bb"'),
    ("format required", {"type": "string", "format": "date-time"}, STRING, "$", "format"),
    (
        "items",
        {"type": "array", "items": STRING},
        {"type": "array", "items": {"type": "integer"}},
        "$[]",
        "type",
    ),
    ("uniqueness", {"type": "array", "uniqueItems": True}, {"type": "array"}, "$", "uniqueItems"),
    ("required, absent", obj({"x": STRING}, ["x"]), obj({}), "$.x", "does not send it"),
    ("required, optional", obj({"x": STRING}, ["x"]), obj({"x": STRING}), "$.x", "may leave it out"),
    ("closed reader", obj({}, additionalProperties=False), obj({"x": STRING}), "$.x", "forbids"),
    (
        "mapping into a closed reader",
        obj({}, additionalProperties=False),
        {"type": "object", "additionalProperties": STRING},
        "$.*",
        "forbids",
    ),
    ("unknown keyword", {"type": "string", "not": {"const": ""}}, STRING, "$", "'not'"),
    ("dangling $ref", {"$ref": "#/$defs/Missing"}, STRING, "$", "cannot resolve"),
]


@pytest.mark.parametrize(
    ("reader", "writer", "path", "reason"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_reader_rejects(reader: Schema, writer: Schema, path: str, reason: str) -> None:
    issues = reader_accepts(reader, writer)
    assert [i.path for i in issues] == [path], [str(i) for i in issues]
    assert reason in issues[0].reason


def tree(leaf: str) -> dict[str, Any]:
    node = obj(
        {"value": {"type": leaf}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}, ["value"]
    )
    return {"$defs": {"Node": node}, "$ref": "#/$defs/Node"}


def test_recursive_schemas_terminate() -> None:
    assert reader_accepts(tree("string"), tree("string")) == []
    assert reader_accepts(tree("number"), tree("integer")) == []
    # Reported once, where the definition is first compared; the recursion assumes the rest.
    assert [i.path for i in reader_accepts(tree("integer"), tree("number"))] == ["$.value"]


# -- the committed schemas validate real serialised events -----------------------------------

CONTENT = ArticleContent(
    headline="Ferry strike called off",
    body_html="<p>Crews accepted the offer.</p>",
    byline="By Ana Ruiz",
    section="business",
    subjects=["ferries", "strikes"],
    language="en",
    canonical_url="https://herald.example/business/ferry",
    first_created=NOW,
    updated=NOW,
    images=[Image(url="https://img.example/1.jpg", caption="The quay", credit="J. Doe")],
)
VERSION = {
    "article_id": "3f7c",
    "version": 2,
    "source": "cms",
    "external_id": "c-9",
    "slug": "ferry-strike-3f7c",
    "accepted_at": NOW,
}
ENRICHED = ArticleEnriched(
    **VERSION,
    content=CONTENT,
    enrichment=Enrichment(
        plain_text="Crews accepted the offer.",
        word_count=4,
        reading_time_minutes=1,
        runs=[EnricherRun(enricher="text", version="1", fields=["plain_text"], duration_ms=1.5)],
    ),
)
SAMPLES: list[Event] = [
    ArticleSubmitted(
        external_id="c-9",
        headline="Ferry strike called off",
        body_html="<p>Crews accepted the offer.</p>",
        section="business",
        images=[SubmittedImage(url="https://img.example/1.jpg")],
    ),
    ArticleIngested(**VERSION, content=CONTENT, content_hash="ab" * 32),
    ENRICHED,
    ArticleEnriched(
        **VERSION, content=CONTENT.model_copy(update={"images": [], "byline": None}), enrichment=Enrichment()
    ),
    publish(ENRICHED, now=NOW),
    publish(ENRICHED.model_copy(update={"content": CONTENT.model_copy(update={"section": None})}), now=NOW),
    ArticleRetracted(
        **{k: v for k, v in VERSION.items() if k != "accepted_at"},
        kind="kill",
        reason="Legal",
        retracted_at=NOW,
    ),
    PageViewRecorded(article_id="3f7c", site="herald.example", viewed_at=NOW),
]


def current_validator(event: Event) -> jsonschema.Draft202012Validator:
    schema = load(revisions(EVENTS_DIR, event.event_type)[-1])
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def serialised(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)


def test_there_is_a_sample_of_every_event() -> None:
    assert {type(sample) for sample in SAMPLES} == set(EVENTS)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.event_type)
def test_current_schema_validates_a_serialised_event(sample: Event) -> None:
    data = json.loads(json.dumps(serialised(sample)))
    errors = sorted(current_validator(sample).iter_errors(data), key=str)
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.event_type)
def test_current_schema_rejects_an_event_missing_a_required_field(sample: Event) -> None:
    validator = current_validator(sample)
    data = serialised(sample)
    for name in validator.schema["required"]:
        broken = {k: v for k, v in data.items() if k != name}
        assert not validator.is_valid(broken), f"{sample.event_type} without {name} passed"


def test_optional_fields_are_absent_never_null() -> None:
    """exclude_none: the schemas say so, and a null where a value may be absent is an error."""
    published = publish(
        ENRICHED.model_copy(update={"content": CONTENT.model_copy(update={"section": None})}), now=NOW
    )
    validator = current_validator(published)
    assert "section" not in serialised(published)
    assert "section" not in validator.schema["required"]
    assert not validator.is_valid(published.model_dump(mode="json", by_alias=True))  # with "section": null


# -- the CLI: regenerate, check, refuse ------------------------------------------------------


def test_cli_writes_only_compatible_revisions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event_dir = tmp_path / ArticleRetracted.event_type
    assert main(["--dir", str(tmp_path), "--check"], events=[ArticleRetracted]) == 1
    assert not event_dir.exists()

    assert main(["--dir", str(tmp_path)], events=[ArticleRetracted]) == 0
    first = (event_dir / "1.json").read_text()
    assert main(["--dir", str(tmp_path)], events=[ArticleRetracted]) == 0, "regeneration is a no-op"
    assert sorted(p.name for p in event_dir.iterdir()) == ["1.json"]
    assert (event_dir / "1.json").read_text() == first
    assert main(["--dir", str(tmp_path), "--check"], events=[ArticleRetracted]) == 0

    compatible = changed(ArticleRetracted, note=(str | None, None))
    assert main(["--dir", str(tmp_path), "--check"], events=[compatible]) == 1
    assert not (event_dir / "2.json").exists()
    assert main(["--dir", str(tmp_path)], events=[compatible]) == 0
    assert load(event_dir / "2.json")["$id"] == schema_id(ArticleRetracted.event_type, 2)

    capsys.readouterr()
    narrowed = changed(compatible, kind=(Literal["unpublish", "kill"], ...))
    assert main(["--dir", str(tmp_path)], events=[narrowed]) == 1
    assert not (event_dir / "3.json").exists()
    message = capsys.readouterr().err
    assert "BACKWARD" in message and "$.kind" in message and '"takedown"' in message
    assert "news.article.retracted.v2" in message


def test_cli_reports_schemas_without_an_event(tmp_path: Path) -> None:
    assert main(["--dir", str(tmp_path)], events=[PageViewRecorded]) == 0
    (tmp_path / "news.article.gone.v1").mkdir()
    assert main(["--dir", str(tmp_path), "--check"], events=[PageViewRecorded]) == 1


def test_the_closed_submission_may_gain_an_optional_field_but_not_a_required_one(tmp_path: Path) -> None:
    """BACKWARD for the submission: ingest must go on accepting what it accepted."""
    root = tmp_path
    first = plan(ArticleSubmitted, root)
    first.write()
    optional = changed(ArticleSubmitted, priority=(int | None, Field(default=None)))
    assert plan(optional, root).status is Status.COMPATIBLE_CHANGE
    required = changed(ArticleSubmitted, priority=(int, Field()))
    found = plan(required, root)
    assert found.status is Status.INCOMPATIBLE_CHANGE
    assert {i.direction for i in found.incompatibilities} == {Direction.BACKWARD}
    still_full = changed(ArticleRetracted, priority=(int | None, Field(default=None)))
    assert ArticleRetracted.compatibility == "FULL" and still_full.compatibility == "FULL"
