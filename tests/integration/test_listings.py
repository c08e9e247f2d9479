"""The article lists in the real Redis: newest first, stable cursors while articles arrive,
a changed section moves an article, a retraction removes it everywhere."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from newsflow_publication.adapters.listings import RedisListings
from newsflow_publication.domain.listings import Teaser
from redis.asyncio import Redis

from tests.support.stack import REDIS, unique

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def teaser(article_id: str, minute: int, section: str = "news") -> Teaser:
    return Teaser(
        article_id=article_id,
        slug=article_id,
        headline=f"Headline {article_id}",
        teaser="Opening words…",
        section=section,
        published_at=T0 + timedelta(minutes=minute),
        version=1,
    )


@pytest.fixture
async def listings() -> AsyncIterator[tuple[RedisListings, str]]:
    redis = Redis.from_url(REDIS)
    run = unique("lists")
    yield RedisListings(redis), run
    keys = [k async for k in redis.scan_iter(match="newsflow:pub:*")]
    ours = [k for k in keys if run.encode() in k]
    if ours:
        await redis.delete(*ours)
    await redis.aclose()


async def test_pages_are_newest_first_and_a_cursor_is_stable_while_articles_arrive(listings) -> None:  # type: ignore[no-untyped-def]
    store, run = listings
    lst = f"section:{run}"
    for minute in range(7):
        await store.put(teaser(f"{run}-{minute}", minute), [lst])
    first, cursor = await store.page(lst, cursor=None, limit=3)
    assert [t.article_id for t in first] == [f"{run}-6", f"{run}-5", f"{run}-4"]
    await store.put(teaser(f"{run}-new", 30), [lst])  # arrives between two page reads
    second, cursor2 = await store.page(lst, cursor=cursor, limit=3)
    assert [t.article_id for t in second] == [f"{run}-3", f"{run}-2", f"{run}-1"]
    last, end = await store.page(lst, cursor=cursor2, limit=3)
    assert [t.article_id for t in last] == [f"{run}-0"] and end is None


async def test_a_new_version_keeps_its_place_and_a_new_section_moves_it(listings) -> None:  # type: ignore[no-untyped-def]
    store, run = listings
    await store.put(teaser(f"{run}-a", 1, section="sport"), [f"x:{run}", f"section:sport-{run}"])
    await store.put(teaser(f"{run}-b", 2, section="sport"), [f"x:{run}", f"section:sport-{run}"])
    await store.put(teaser(f"{run}-a", 9, section="arts"), [f"x:{run}", f"section:arts-{run}"])
    everything, _ = await store.page(f"x:{run}", cursor=None, limit=10)
    assert [t.article_id for t in everything] == [f"{run}-b", f"{run}-a"]  # a keeps its first place
    assert [t.section for t in everything] == ["sport", "arts"]
    assert [t.article_id for t in (await store.page(f"section:sport-{run}", cursor=None, limit=10))[0]] == [
        f"{run}-b"
    ]
    assert [t.article_id for t in (await store.page(f"section:arts-{run}", cursor=None, limit=10))[0]] == [
        f"{run}-a"
    ]


async def test_a_removed_article_leaves_every_list(listings) -> None:  # type: ignore[no-untyped-def]
    store, run = listings
    await store.put(teaser(f"{run}-a", 1), [f"x:{run}", f"y:{run}"])
    await store.remove(f"{run}-a")
    assert (await store.page(f"x:{run}", cursor=None, limit=10))[0] == []
    assert (await store.page(f"y:{run}", cursor=None, limit=10))[0] == []
    assert await store.teasers([f"{run}-a"]) == []
