"""Publication keeps a version found to be a duplicate on record, but neither serves it on
the read API nor puts it on the published topic (FastStream's in-memory broker)."""

from datetime import UTC, datetime
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker
from newsflow_chassis.cloudevents import attributes_for, to_headers
from newsflow_contracts.events import ArticleContent, ArticleEnriched, Duplicate, Enrichment
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_PUBLISHED
from newsflow_publication.app import create_app
from newsflow_publication.settings import Settings

from tests.support.fakes import FakeArticleRepository

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def enriched(article_id: str, duplicate: Duplicate | None = None) -> ArticleEnriched:
    return ArticleEnriched(
        article_id=article_id,
        version=1,
        source="herald" if duplicate is None else "wire",
        external_id=article_id,
        slug=f"ferry-strike-{article_id}",
        accepted_at=NOW,
        content=ArticleContent(
            headline="Ferry strike called off",
            body_html="<p>Crews accepted.</p>",
            first_created=NOW,
            updated=NOW,
        ),
        enrichment=Enrichment(word_count=2),
        duplicate=duplicate,
    )


async def test_a_duplicate_is_on_record_but_not_served_nor_published() -> None:
    repository = FakeArticleRepository()
    app = create_app(Settings(), articles=repository)
    broker = app.state.broker
    published: list[dict[str, Any]] = []

    @broker.subscriber(ARTICLE_PUBLISHED.name, group_id="test-published")
    async def capture(body: dict[str, Any]) -> None:
        published.append(body)

    finding = Duplicate(of_article_id="first", kind="near", similarity=0.83)
    async with TestKafkaBroker(broker) as br:
        for event in (enriched("first"), enriched("copy", finding)):
            headers = to_headers(
                attributes_for(event, event_id=f"ce-{event.article_id}", source="/t", subject="x")
            )
            await br.publish(
                event.model_dump(mode="json"),
                topic=ARTICLE_ENRICHED.name,
                key=event.article_id.encode(),
                headers=headers,
            )

    assert [p["article_id"] for p in published] == ["first"]
    assert set(repository.articles) == {"first"}
    kept, why = repository.duplicates[("copy", 1)]
    assert why == finding and kept.slug == "ferry-strike-copy"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client:
        assert (await client.get("/v1/articles/first")).status_code == 200
        assert (await client.get("/v1/articles/copy")).status_code == 404
        assert (await client.get("/v1/articles/by-slug/ferry-strike-copy")).status_code == 404
