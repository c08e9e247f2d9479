import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from newsflow_contracts.events import ArticleContent, ArticleEnriched, Enrichment, Image
from newsflow_publication.domain.articles import publish

SCHEMA = json.loads((Path(__file__).parents[2] / "shared/schemas/ninjs/ninjs-schema_3.1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def enriched(**content_changes: object) -> ArticleEnriched:
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
        enrichment=Enrichment(plain_text="Crews accepted the offer.", word_count=4, reading_time_minutes=1),
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
