"""The replay's write-behind adapters write exactly what the live repository and lists write
for the same records in the same order: random histories of versions, redeliveries, stale
versions, retractions of every kind, republications, changes of section and slug and
duplicates, written in the background from random moments on while the next records are
applied, compared document by document (the compressed content decoded, beside the fields
kept readable) and key by key."""

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from newsflow_contracts.events import (
    ArticleContent,
    ArticleEnriched,
    ArticleRetracted,
    Duplicate,
    Enrichment,
)
from newsflow_publication.adapters.articles import CONTENT, MongoArticleRepository, decoded
from newsflow_publication.adapters.listings import KEY_SPACES, PREFIX, RedisListings
from newsflow_publication.adapters.rebuild import RebuildArticles, RebuildListings
from newsflow_publication.entrypoints.consumer import store_enriched, store_retracted
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.support.stack import MONGO, REDIS, unique

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
Event = ArticleEnriched | ArticleRetracted


def enriched(
    article_id: str, version: int, rng: random.Random, duplicate: Duplicate | None
) -> ArticleEnriched:
    section = rng.choice(["politics", "sport", "arts", None])
    subjects = rng.sample(["transport", "energy", "health", "schools"], k=rng.randint(0, 2))
    words = " ".join(rng.choice(["ferry", "quay", "strike", "council", "vote"]) for _ in range(30))
    content = ArticleContent(
        headline=f"Headline {article_id} v{version}",
        body_html=f"<p>{words}</p>",
        section=section,
        subjects=subjects,
        first_created=T0,
        updated=T0 + timedelta(minutes=version),
        correction_note="Corrected the date." if version > 1 and rng.random() < 0.3 else None,
    )
    return ArticleEnriched(
        article_id=article_id,
        version=version,
        source="cms",
        external_id=article_id,
        slug=f"{article_id}-{rng.choice(['a', 'b'])}" if version > 1 else f"{article_id}-a",
        accepted_at=T0 + timedelta(minutes=version),
        content=content,
        enrichment=Enrichment(plain_text=words, word_count=30),
        duplicate=duplicate,
    )


def history(article_id: str, rng: random.Random) -> list[Event]:
    """One article's records as the topics would hold them: mostly in order, with
    redeliveries and a stale version now and then."""
    duplicate = Duplicate(of_article_id="other", kind="near", similarity=0.8) if rng.random() < 0.1 else None
    events: list[Event] = []
    killed = False
    for version in range(1, rng.randint(1, 6) + 1):
        if not killed and version > 1 and rng.random() < 0.3:
            kind = rng.choice(["unpublish", "kill", "takedown"])
            events.append(
                ArticleRetracted(
                    article_id=article_id,
                    version=version,
                    source="cms",
                    external_id=article_id,
                    slug=f"{article_id}-a",
                    kind=kind,  # type: ignore[arg-type]
                    reason="legal",
                    retracted_at=T0 + timedelta(minutes=version),
                )
            )
            killed = kind != "unpublish"
        elif not killed:
            events.append(enriched(article_id, version, rng, duplicate))
        if events and rng.random() < 0.15:
            events.append(events[-1])  # a redelivery
        if len(events) > 1 and rng.random() < 0.15:
            events[-1], events[-2] = events[-2], events[-1]  # a stale version arrives late
    return events


def interleaved(rng: random.Random, run: str, articles: int) -> list[Event]:
    queues = [history(f"{run}-{n}", rng) for n in range(articles)]
    events: list[Event] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        events.append(queue.pop(0))
    return events


async def apply(articles: Any, listings: Any, event: Event, now: datetime) -> None:
    if isinstance(event, ArticleRetracted):
        await store_retracted(articles, listings, event)
    else:
        await store_enriched(articles, listings, event, now=now)


async def documents(client: AsyncMongoClient, database: str) -> dict[str, list[dict[str, Any]]]:
    db = client[database]
    return {
        name: sorted([decoded(doc) async for doc in db[name].find({})], key=lambda d: d["_id"])
        for name in ("articles", "article_versions", "article_slugs")
    }


async def keys(redis: Redis, prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for space in KEY_SPACES:
        async for key in redis.scan_iter(match=f"{prefix}:{space}:*", count=10_000):
            name = key.decode()[len(prefix) :]
            kind = (await redis.type(key)).decode()
            if kind == "zset":
                found[name] = await redis.zrange(key, 0, -1, withscores=True)
            elif kind == "set":
                found[name] = sorted(await redis.smembers(key))
            else:
                found[name] = await redis.get(key)
    return found


@pytest.fixture
async def stores() -> AsyncIterator[tuple[AsyncMongoClient, Redis, str]]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    redis = Redis.from_url(REDIS)
    run = unique("rebuild")
    yield client, redis, run
    for side in ("live", "rebuild"):
        await client.drop_database(f"{run}_{side}")
        stale = [k async for k in redis.scan_iter(match=f"{PREFIX}:{run}_{side}:*", count=10_000)]
        if stale:
            await redis.delete(*stale)
    await client.close()
    await redis.aclose()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_the_rebuild_writes_what_the_live_consumer_writes(stores, seed: int) -> None:  # type: ignore[no-untyped-def]
    client, redis, run = stores
    rng = random.Random(seed)
    events = interleaved(rng, f"{run}-s{seed}", articles=40)
    live_prefix, rebuild_prefix = f"{PREFIX}:{run}_live", f"{PREFIX}:{run}_rebuild"
    live = MongoArticleRepository(client, f"{run}_live"), RedisListings(redis, live_prefix)
    rebuild = RebuildArticles(client, f"{run}_rebuild"), RebuildListings(redis, rebuild_prefix)
    await live[0].create_indexes()
    await rebuild[0].create_indexes()

    for n, event in enumerate(events):
        now = T0 + timedelta(hours=1, seconds=n)
        await apply(*live, event, now)
        await apply(*rebuild, event, now)
        if rng.random() < 0.15:  # written in the background while the next records are applied
            await rebuild[0].drain()
            await rebuild[1].drain()
            rebuild[0].start_flush()
            rebuild[1].start_flush()
    await rebuild[0].flush()
    await rebuild[1].flush()

    kinds = {type(e).__name__ + (getattr(e, "kind", "") or "") for e in events}
    assert {"ArticleEnriched", "ArticleRetractedtakedown", "ArticleRetractedunpublish"} <= kinds
    expected, got = await documents(client, f"{run}_live"), await documents(client, f"{run}_rebuild")
    for name in expected:
        assert len(got[name]) == len(expected[name]) > 0, name
        for want, have in zip(expected[name], got[name], strict=True):
            assert have == want, name
    assert any(v.get("taken_down") for v in got["article_versions"])
    assert all(CONTENT in a or "retracted" in a for a in got["articles"])
    assert any(isinstance(a.get(CONTENT), dict) and a[CONTENT]["article"] for a in got["articles"])
    assert any("duplicate" in v for v in got["article_versions"]) or seed != 1
    expected_keys, got_keys = await keys(redis, live_prefix), await keys(redis, rebuild_prefix)
    assert got_keys == expected_keys
    assert any(k.startswith(":list:") for k in got_keys)
