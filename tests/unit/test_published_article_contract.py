import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from newsflow_contracts.events import ArticleContent, ArticleEnriched, Enrichment, Image, Subject
from newsflow_publication.domain.articles import publish

SCHEMA = json.loads((Path(__file__).parents[2] / "shared/schemas/ninjs/ninjs-schema_3.1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


MACHINE = Enrichment(
    plain_text="Crews accepted the offer from Harbour Link in Harbourton.",
    word_count=9,
    reading_time_minutes=1,
    language="en",
    teaser="Crews accepted the offer from Harbour Link…",
    summary="Crews accepted the offer from Harbour Link in Harbourton.",
    subjects=[
        Subject(id="urn:newsflow:subject:person:ana-ruiz", name="Ana Ruiz", kind="person", relevance=100),
        Subject(id="urn:newsflow:subject:place:harbourton", name="Harbourton", kind="place", relevance=50),
        Subject(
            id="urn:newsflow:subject:organisation:harbour-link",
            name="Harbour Link",
            kind="organisation",
            relevance=50,
        ),
        Subject(
            id="urn:newsflow:subject:topic:ferry-strike", name="ferry strike", kind="topic", relevance=80
        ),
    ],
)


def enriched(enrichment: Enrichment | None = None, **content_changes: object) -> ArticleEnriched:
    fields: dict[str, object] = {
        "headline": "Ferry strike called off",
        "body_html": "<p>Crews accepted the offer.</p>",
        "byline": "By Ana Ruiz",
        "section": "business",
        "subjects": ["ferries", "strikes"],
        "language": "en",
        "canonical_url": "https://herald.example/business/ferry",
        "first_created": NOW,
        "updated": NOW,
    }
    content = ArticleContent.model_validate({**fields, **content_changes})
    return ArticleEnriched(
        article_id="3f7c",
        version=2,
        source="cms",
        external_id="c-9",
        slug="ferry-strike-3f7c",
        accepted_at=NOW,
        content=content,
        enrichment=enrichment
        or Enrichment(plain_text="Crews accepted the offer.", word_count=4, reading_time_minutes=1),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"embargo_until": NOW, "correction_note": "Corrected the date."},
        {"images": [Image(url="https://img.example/1.jpg", caption="The quay", credit="J. Doe")]},
        {"byline": None, "language": None, "subjects": []},
    ],
)
def test_published_article_validates_against_ninjs_3_1(changes: dict[str, object]) -> None:
    article = publish(enriched(**changes), now=NOW).article.to_json()
    errors = sorted(VALIDATOR.iter_errors(article), key=str)
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("changes", [{}, {"language": None, "subjects": []}])
def test_an_article_with_machine_metadata_validates_against_ninjs_3_1(changes: dict[str, object]) -> None:
    article = publish(enriched(MACHINE, **changes), now=NOW).article.to_json()
    errors = sorted(VALIDATOR.iter_errors(article), key=str)
    assert errors == [], [e.message for e in errors]


def test_machine_metadata_becomes_descriptions_and_concepts_beside_the_editors_subjects() -> None:
    article = publish(enriched(MACHINE), now=NOW).article.to_json()
    assert article["descriptions"] == [
        {"role": "teaser", "contentType": "text/plain", "value": MACHINE.teaser},
        {"role": "summary", "contentType": "text/plain", "value": MACHINE.summary},
    ]
    assert article["subjects"][:2] == [
        {"name": "ferries", "creator": "editor"},
        {"name": "strikes", "creator": "editor"},
    ]
    assert article["subjects"][2:] == [
        {"name": s.name, "uri": s.id, "creator": "machine", "relevance": s.relevance}
        for s in MACHINE.subjects or []
    ]
    assert article["people"] == [{"name": "Ana Ruiz", "uri": "urn:newsflow:subject:person:ana-ruiz"}]
    assert article["places"] == [{"name": "Harbourton", "uri": "urn:newsflow:subject:place:harbourton"}]
    assert article["organisations"] == [
        {"name": "Harbour Link", "uri": "urn:newsflow:subject:organisation:harbour-link"}
    ]


def test_the_detected_language_fills_in_only_when_the_newsroom_gave_none() -> None:
    fr = MACHINE.model_copy(update={"language": "fr"})
    assert publish(enriched(fr), now=NOW).article.language == "en"
    assert publish(enriched(fr, language=None), now=NOW).article.language == "fr"


def test_ninjs_carries_headline_both_bodies_version_and_source_id() -> None:
    article = publish(enriched(), now=NOW).article.to_json()
    assert article["uri"] == "urn:newsflow:article:3f7c"
    assert article["version"] == "2"
    assert article["headlines"] == [{"role": "main", "value": "Ferry strike called off"}]
    assert [b["role"] for b in article["bodies"]] == ["html", "text"]
    assert article["altIds"] == [{"role": "source", "value": "cms:c-9"}]


def test_the_schema_check_itself_rejects_a_broken_article() -> None:
    article = publish(enriched(), now=NOW).article.to_json()
    article["pubStatus"] = "published"
    article["headlines"] = "not a list"
    assert len(list(VALIDATOR.iter_errors(article))) >= 2


IPTC_CASES = Path(__file__).parents[2] / "shared/schemas/ninjs/test_suite/3.1"


@pytest.mark.parametrize("case", sorted(IPTC_CASES.glob("should_pass/*.json")), ids=lambda p: p.name)
def test_the_validator_accepts_iptcs_valid_cases(case: Path) -> None:
    assert [e.message for e in VALIDATOR.iter_errors(json.loads(case.read_text()))] == []


@pytest.mark.parametrize("case", sorted(IPTC_CASES.glob("should_fail/*.json")), ids=lambda p: p.name)
def test_the_validator_rejects_iptcs_invalid_cases(case: Path) -> None:
    assert list(VALIDATOR.iter_errors(json.loads(case.read_text()))) != []
