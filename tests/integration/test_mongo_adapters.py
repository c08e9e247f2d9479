"""Adapters against the real FerretDB: versioned upserts, the compact article documents and
the shape before them, heads, hashed keys."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from newsflow_contracts.events import (
    ArticleContent,
    ArticleEnriched,
    ArticlePublished,
    ArticleRetracted,
    ArticleSubmitted,
    EnricherRun,
    Enrichment,
    Signature,
    SignatureTerm,
)
from newsflow_ingest.adapters.heads import MongoHeadStore
from newsflow_ingest.adapters.keys import MongoKeyStore
from newsflow_ingest.domain.articles import decide, normalise
from newsflow_publication.adapters.articles import CONTENT, MongoArticleRepository, decoded
from newsflow_publication.domain.articles import publish
from pymongo import AsyncMongoClient

from tests.support.stack import MONGO, unique

NOW = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture
async def database() -> AsyncIterator[tuple[AsyncMongoClient, str]]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    name = unique("test")
    yield client, name
    await client.drop_database(name)
    await client.close()


def published(version: int, headline: str, article_id: str = "a1"):  # type: ignore[no-untyped-def]
    content = ArticleContent(headline=headline, body_html="<p>x</p>", first_created=NOW, updated=NOW)
    enriched = ArticleEnriched(
        article_id=article_id,
        version=version,
        source="cms",
        external_id="e",
        slug=f"slug-{article_id}",
        accepted_at=NOW,
        content=content,
        enrichment=Enrichment(word_count=1),
    )
    return publish(enriched, now=NOW)


async def test_versioned_upsert_keeps_the_newest_and_ignores_stale(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    await repo.create_indexes()
    assert (await repo.save(published(2, "second"))).version == 2
    stale = await repo.save(published(1, "first"))
    assert stale.version == 2 and stale.article.headlines[0].value == "second"
    again = await repo.save(published(2, "second"))  # redelivery
    assert again.version == 2
    await repo.save(published(3, "third"))
    current = await repo.get("a1")
    assert current is not None and current.article.headlines[0].value == "third"
    assert (await repo.get_by_slug("slug-a1")) == current
    assert await repo.versions.count_documents({"article_id": "a1"}) == 3


def retraction(version: int, kind: str, article_id: str = "a1") -> ArticleRetracted:
    return ArticleRetracted(
        article_id=article_id,
        version=version,
        source="cms",
        external_id="e",
        slug=f"slug-{article_id}",
        kind=kind,  # type: ignore[arg-type]
        reason="legal",
        retracted_at=NOW,
    )


async def test_a_retraction_supersedes_older_versions_and_a_newer_version_brings_it_back(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    await repo.create_indexes()
    await repo.save(published(1, "first"))
    assert isinstance(await repo.retract(retraction(2, "unpublish")), ArticleRetracted)
    assert isinstance(await repo.save(published(1, "first")), ArticleRetracted)  # stale redelivery
    stored = await repo.get("a1")
    assert isinstance(stored, ArticleRetracted) and stored.kind == "unpublish"
    assert "article" not in (await repo.articles.find_one({"_id": "a1"}) or {"article": "missing"})

    back = await repo.save(published(3, "back"))
    assert isinstance(back, ArticlePublished)
    current = await repo.get_by_slug("slug-a1")
    assert isinstance(current, ArticlePublished) and current.article.headlines[0].value == "back"
    assert isinstance(await repo.retract(retraction(2, "unpublish")), ArticlePublished)  # stale


async def test_a_takedown_erases_the_content_of_every_version(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    await repo.create_indexes()
    await repo.save(published(1, "first"))
    await repo.save(published(2, "second"))
    await repo.retract(retraction(3, "takedown"))
    versions = [doc async for doc in repo.versions.find({"article_id": "a1"})]
    assert len(versions) == 3
    erased = [doc["version"] for doc in versions if doc.get("taken_down") and "state" not in doc]
    assert sorted(erased) == [1, 2]
    assert isinstance(await repo.get("a1"), ArticleRetracted)


async def test_heads_detect_a_concurrent_writer(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    heads = MongoHeadStore(client, name)
    content = normalise(ArticleSubmitted(external_id="h", headline="H", body_html="<p>b</p>"), now=NOW)
    first = decide(head=None, source="cms", external_id="h", content=content, accepted_at=NOW)
    assert await heads.save(first.event, event_id="e1", previous_version=0)  # type: ignore[union-attr]
    assert not await heads.save(first.event, event_id="e1", previous_version=0)  # type: ignore[union-attr]
    assert [e.version for e, _ in await heads.unsent()] == [1]
    await heads.mark_sent(first.event.article_id, 1)  # type: ignore[union-attr]
    head = await heads.get(first.event.article_id)  # type: ignore[union-attr]
    assert head is not None and head.sent and head.version == 1
    assert await heads.unsent() == []


async def test_heads_find_versions_stored_past_a_lagging_hint(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    heads = MongoHeadStore(client, name)
    head = None
    for number in (1, 2, 3):
        text = f"<p>body {number}</p>"
        content = normalise(ArticleSubmitted(external_id="h", headline="H", body_html=text), now=NOW)
        decision = decide(head=head, source="cms", external_id="h", content=content, accepted_at=NOW)
        previous = head.version if head else 0
        assert await heads.save(decision.event, event_id=f"e{number}", previous_version=previous)  # type: ignore[union-attr]
        head = await heads.get(decision.event.article_id)  # type: ignore[union-attr]
    assert head is not None and head.version == 3
    await heads.hints.update_one({"_id": head.article_id}, {"$set": {"version": 1}})  # a crash left it behind
    again = await heads.get(head.article_id)
    assert again is not None and again.version == 3 and again.event_id == "e3"
    stored = await heads.event_of(head.article_id)
    assert stored is not None and stored[0].version == 3
    assert [e.version for e, _ in await heads.unsent()] == [1, 2, 3]


async def test_keys_are_stored_hashed_scoped_and_revocable(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    keys = MongoKeyStore(client, name)
    await keys.create_indexes()
    key_id, key = await keys.create(source="cms-a", scopes=("publish",))
    stored = await keys.keys.find_one({"_id": key_id})
    assert key not in str(stored)
    who = await keys.authenticate(key)
    assert who is not None and who.source == "cms-a" and who.scopes == {"publish"}
    assert await keys.authenticate(key + "x") is None
    assert await keys.revoke(key_id)
    assert await keys.authenticate(key) is None
    with pytest.raises(ValueError):
        await keys.create(source="cms-a", scopes=("admin",))


async def test_the_same_version_enriched_by_a_new_enricher_version_replaces_it(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    original = published(1, "first")
    first_run = EnricherRun(enricher="text", version="1", duration_ms=1.0)
    newer_run = EnricherRun(enricher="text", version="2", duration_ms=1.0)
    v1 = original.model_copy(update={"enrichment": Enrichment(word_count=1, runs=[first_run])})
    assert (await repo.save(v1)).enrichment.runs == [first_run]  # type: ignore[union-attr]
    later = v1.model_copy(update={"published_at": NOW.replace(hour=5)})
    assert (await repo.save(later)).published_at == v1.published_at  # type: ignore[union-attr]  # redelivery
    replayed = v1.model_copy(update={"enrichment": Enrichment(word_count=1, runs=[newer_run])})
    stored = await repo.save(replayed)
    assert stored.enrichment.runs == [newer_run]  # type: ignore[union-attr]
    current = await repo.get("a1")
    assert current is not None and current.enrichment.runs == [newer_run]  # type: ignore[union-attr]
    history = await repo.versions.find_one({"_id": "a1:1"})
    assert history is not None
    assert decoded(history)["state"][CONTENT]["enrichment"]["runs"][0]["version"] == "2"
    assert history["state"]["enriched_by"] == [{"enricher": "text", "version": "2"}]


async def test_an_article_is_stored_as_a_few_fields_and_its_compressed_content(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    await repo.create_indexes()
    run = EnricherRun(enricher="text", version="1", duration_ms=1.0)
    signature = Signature(scheme="logtf", terms=[SignatureTerm(term="quay", weight=1.0)])
    article = published(1, "first").model_copy(
        update={"enrichment": Enrichment(word_count=1, runs=[run], signature=signature)}
    )
    await repo.save(article)
    current = await repo.articles.find_one({"_id": "a1"})
    assert current is not None and set(current) == {"_id", "version", "slug", "enriched_by", CONTENT}
    assert isinstance(current[CONTENT], bytes) and current["slug"] == "slug-a1" and current["version"] == 1
    assert current["enriched_by"] == [{"enricher": "text", "version": "1"}]
    content = decoded(current)[CONTENT]
    assert content["article_id"] == "a1" and content["article"]["headlines"][0]["value"] == "first"
    assert "signature" not in content["enrichment"]  # kept out of the read model
    version = await repo.versions.find_one({"_id": "a1:1"})
    assert version is not None and version["state"] == {k: v for k, v in current.items() if k != "_id"}
    assert await repo.get("a1") == article.model_copy(
        update={"enrichment": article.enrichment.model_copy(update={"signature": None})}
    )


def version_before(state: ArticlePublished) -> dict[str, Any]:
    """A version record as the repository stored it before its content was compressed."""
    return {
        "_id": f"{state.article_id}:{state.version}",
        "article_id": state.article_id,
        "version": state.version,
        "state": shape_before(state),
    }


def shape_before(state: ArticlePublished) -> dict[str, Any]:
    """An article as the repository stored it before its content was compressed."""
    doc = state.model_dump(mode="json", by_alias=True, exclude_none=True)
    del doc["article_id"]
    doc["enrichment"].pop("signature", None)
    return doc


async def test_documents_stored_before_the_compact_shape_are_still_read_and_superseded(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    await repo.create_indexes()
    run = EnricherRun(enricher="text", version="1", duration_ms=1.0)
    v1, v2 = (
        published(n, headline).model_copy(update={"enrichment": Enrichment(word_count=1, runs=[run])})
        for n, headline in ((1, "first"), (2, "second"))
    )
    await repo.versions.insert_many([version_before(v1), version_before(v2)])
    await repo.articles.insert_one({"_id": "a1", **shape_before(v2)})
    await repo.slugs.insert_one({"_id": "slug-a1", "article_id": "a1"})

    assert await repo.get("a1") == v2
    assert await repo.get_by_slug("slug-a1") == v2
    assert await repo.save(v1) == v2  # stale
    redelivered = v2.model_copy(update={"published_at": NOW.replace(hour=5)})
    assert await repo.save(redelivered) == v2  # the same enricher versions: a redelivery, no write
    assert "article" in (await repo.articles.find_one({"_id": "a1"}) or {})  # still the shape before
    newer_run = EnricherRun(enricher="text", version="2", duration_ms=1.0)
    re_enriched = v2.model_copy(update={"enrichment": Enrichment(word_count=1, runs=[newer_run])})
    assert await repo.save(re_enriched) == re_enriched  # replaces it, in the compact shape
    current = await repo.articles.find_one({"_id": "a1"})
    assert current is not None and CONTENT in current and "article" not in current
    v3 = published(3, "third")
    await repo.save(v3)
    assert await repo.get("a1") == v3
    await repo.retract(retraction(4, "takedown"))  # erases the content of both shapes
    versions = {doc["version"]: doc async for doc in repo.versions.find({"article_id": "a1"})}
    assert sorted(versions) == [1, 2, 3, 4]
    assert all(versions[n].get("taken_down") and "state" not in versions[n] for n in (1, 2, 3))
    assert versions[4]["state"]["retracted"]["kind"] == "takedown"
    assert isinstance(await repo.get("a1"), ArticleRetracted)


async def test_a_takedown_spares_a_retraction_stored_before(database) -> None:  # type: ignore[no-untyped-def]
    client, name = database
    repo = MongoArticleRepository(client, name)
    await repo.create_indexes()
    v1 = published(1, "first")
    await repo.versions.insert_one(version_before(v1))
    await repo.save(published(2, "second"))
    await repo.retract(retraction(3, "unpublish"))
    await repo.save(published(4, "back"))
    await repo.retract(retraction(5, "takedown"))
    versions = {doc["version"]: doc async for doc in repo.versions.find({"article_id": "a1"})}
    assert [n for n in sorted(versions) if "state" not in versions[n]] == [1, 2, 4]
    assert versions[3]["state"]["retracted"]["kind"] == "unpublish"
