"""Publication's repository against the real FerretDB: a duplicate's version is on record
in the history, with its finding, and is not the article's state."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from newsflow_contracts.events import ArticleContent, ArticleEnriched, Duplicate, Enrichment
from newsflow_publication.adapters.articles import CONTENT, MongoArticleRepository, decoded
from newsflow_publication.domain.articles import publish
from pymongo import AsyncMongoClient

from tests.support.stack import MONGO, unique

NOW = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture
async def repository() -> AsyncIterator[MongoArticleRepository]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    name = unique("test_dup_record")
    yield MongoArticleRepository(client, name)
    await client.drop_database(name)
    await client.close()


async def test_a_duplicate_is_kept_in_the_history_only(repository: MongoArticleRepository) -> None:
    content = ArticleContent(headline="Copy", body_html="<p>x</p>", first_created=NOW, updated=NOW)
    event = ArticleEnriched(
        article_id="copy",
        version=1,
        source="wire",
        external_id="w-1",
        slug="copy-slug",
        accepted_at=NOW,
        content=content,
        enrichment=Enrichment(word_count=1),
    )
    finding = Duplicate(of_article_id="first", kind="exact", similarity=1.0)
    await repository.record_duplicate(publish(event, now=NOW), finding)
    await repository.record_duplicate(publish(event, now=NOW), finding)  # redelivery
    kept = await repository.versions.find_one({"_id": "copy:1"})
    assert kept is not None and kept["duplicate"] == finding.model_dump(mode="json")
    assert kept["state"]["slug"] == "copy-slug"
    assert decoded(kept)["state"][CONTENT]["article"]["headlines"][0]["value"] == "Copy"
    assert await repository.get("copy") is None
    assert await repository.get_by_slug("copy-slug") is None
