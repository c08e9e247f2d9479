"""The read API's half-second cache: hits spare the repository, misses are never cached,
entries expire."""

import asyncio

from newsflow_publication.adapters.read_cache import CachedReads, ShortLived
from newsflow_publication.domain.articles import publish

from tests.support.fakes import FakeArticleRepository
from tests.unit.test_published_article_contract import NOW, enriched


async def test_found_articles_are_served_from_memory_until_they_expire() -> None:
    repository = FakeArticleRepository()
    reads = CachedReads(repository, ttl_s=0.05)
    assert await reads.get("3f7c") is None
    article = publish(enriched(), now=NOW)
    await repository.save(article)
    assert await reads.get("3f7c") == article  # a miss was not cached
    repository.articles.clear()
    assert await reads.get("3f7c") == article  # served from memory
    await asyncio.sleep(0.06)
    assert await reads.get("3f7c") is None  # expired, read again


async def test_a_shared_list_is_computed_once_per_period_and_per_key() -> None:
    lists: ShortLived[str, list[int]] = ShortLived(ttl_s=0.05, max_entries=2)
    calls: list[str] = []

    async def compute(key: str) -> list[int]:
        calls.append(key)
        return [len(calls)]

    assert await lists.get("a", lambda: compute("a")) == [1]
    assert await lists.get("a", lambda: compute("a")) == [1]
    assert await lists.get("b", lambda: compute("b")) == [2]
    assert calls == ["a", "b"]
    await asyncio.sleep(0.06)
    assert await lists.get("a", lambda: compute("a")) == [3]  # expired, computed again
    await lists.get("c", lambda: compute("c"))
    assert len(lists._entries) <= 2  # full: the expired ones made room
