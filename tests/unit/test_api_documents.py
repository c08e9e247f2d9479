"""The committed OpenAPI and AsyncAPI documents match what the code generates."""

import json
from pathlib import Path

import jsonschema
import pytest

from docs.generate import DOCS, documents, stale


def test_committed_api_documents_are_up_to_date() -> None:
    outdated = stale(documents())
    assert outdated == [], f"stale API documents {[p.name for p in outdated]}: run `make docs`"


def test_asyncapi_lists_each_services_topics_with_cloudevents_headers() -> None:
    publication = json.loads((DOCS / "asyncapi" / "publication.json").read_text())
    assert publication["asyncapi"] == "3.0.0"
    operations = {
        (op["action"], op["channel"]["$ref"].rsplit("/", 1)[-1]) for op in publication["operations"].values()
    }
    assert operations == {
        ("receive", "article-events:subscribe:news.article.enriched.v1"),
        ("receive", "article-events:subscribe:news.article.retracted.v1"),
        ("send", "news.article.published.v1:publish"),
        ("receive", "webhooks:subscribe"),
        ("receive", "popular:subscribe"),
        ("send", "news.pageview.recorded.v1:publish"),
    }
    message = publication["components"]["messages"]["news.article.published.v1:publish:Message"]
    assert message["headers"]["properties"]["ce_type"]["const"] == "news.article.published.v1"
    assert "ArticlePublished" in publication["components"]["schemas"]
    retracted = publication["components"]["messages"][
        "article-events:subscribe:news.article.retracted.v1:SubscribeMessage"
    ]
    assert retracted["payload"] == {"$ref": "#/components/schemas/ArticleRetracted"}


ASYNCAPI_SCHEMA = json.loads((Path(__file__).parent / "specs" / "asyncapi-3.0.0.json").read_text())


@pytest.mark.parametrize("service", ["ingest", "enrichment", "publication"])
def test_asyncapi_documents_validate_against_the_official_schema(service: str) -> None:
    document = json.loads((DOCS / "asyncapi" / f"{service}.json").read_text())
    validator = jsonschema.Draft7Validator(ASYNCAPI_SCHEMA)
    assert [e.message for e in validator.iter_errors(document)] == []
    broken = {**document, "operations": {"x": {"action": "shout", "channel": {"$ref": "#/channels/x"}}}}
    assert list(validator.iter_errors(broken)) != []
