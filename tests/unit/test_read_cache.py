"""The read API's caches: kept until a change is announced (short-lived while the change
feed is down), misses never kept, nothing kept that a change overtook; the page's JSON made
from parts is the page model's JSON."""

import asyncio
import json
from collections.abc import Iterable

from newsflow_publication.adapters.changes import ChangeListener, article_tag
from newsflow_publication.adapters.read_cache import CachedReads, ShortLived, UntilChanged
from newsflow_publication.domain.articles import publish
from newsflow_publication.domain.listings import Teaser, teaser_of
from newsflow_publication.entrypoints.pages import Page, PopularShown, Shown, page_json

from tests.support.fakes import FakeArticleRepository
from tests.unit.test_published_article_contract import NOW, enriched


def feed(*, live: bool) -> ChangeListener:
    listener = ChangeListener("redis://unused")
    listener.live = live
    return listener


class Counted:
    """A computation that answers how many times it has run, after `delay_s`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        number = self.calls
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return number


async def test_found_articles_are_kept_until_their_change_is_announced() -> None:
    repository = FakeArticleRepository()
    changes = feed(live=True)
    reads = CachedReads(repository, changes)
    assert await reads.get("3f7c") is None
    article = publish(enriched(), now=NOW)
    await repository.save(article)
    assert await reads.get("3f7c") == article  # a miss was not kept
    repository.articles.clear()
    await asyncio.sleep(0.6)
    assert await reads.get("3f7c") == article  # kept: nothing announced
    changes.changed([article_tag("other")])
    assert await reads.get("3f7c") == article  # another article's change leaves it
    changes.changed([article_tag("3f7c")])
    assert await reads.get("3f7c") is None  # its change drops it


async def test_without_the_change_feed_articles_are_kept_half_a_second() -> None:
    repository = FakeArticleRepository()
    reads = CachedReads(repository, feed(live=False))
    article = publish(enriched(), now=NOW)
    await repository.save(article)
    assert await reads.get("3f7c") == article
    repository.articles.clear()
    assert await reads.get("3f7c") == article
    await asyncio.sleep(0.55)
    assert await reads.get("3f7c") is None


async def test_a_value_a_change_overtook_while_computing_is_not_kept() -> None:
    changes = feed(live=True)
    cache: UntilChanged[str, int] = UntilChanged(changes, max_age_s=60)
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            changes.changed(["list:section:sport"])  # announced while this was reading
        return calls

    def tags(_: int) -> Iterable[str]:
        return ["list:section:sport"]

    assert await cache.get("k", compute, tags) == 1
    assert await cache.get("k", compute, tags) == 2  # not kept, computed again
    assert await cache.get("k", compute, tags) == 2  # kept now
    changes.reset()  # a reconnection forgets everything
    assert await cache.get("k", compute, tags) == 3


def teaser(article_id: str) -> Teaser:
    event = enriched(headline=f"Story {article_id}").model_copy(
        update={"article_id": article_id, "slug": f"story-{article_id}"}
    )
    return teaser_of(publish(event, now=NOW))


def test_the_page_made_of_parts_is_the_page_models_json() -> None:
    article = publish(enriched(), now=NOW)
    others = [teaser(f"a{n}") for n in range(8)]
    popular = PopularShown().of([others[0], teaser_of(article), *others[1:6]], article.article_id)
    assert article.article_id not in popular.names
    like_this, similar = Shown.of(others[2:5]), Shown.of([])
    made = page_json(
        article.model_dump_json(by_alias=True, exclude_none=True).encode(), popular, like_this, similar
    )
    model = Page(article=article, popular=popular.teasers, more_like_this=like_this.teasers, related=[])
    assert made == model.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert json.loads(made)["popular"][0]["article_id"] == "a0"


def test_popular_is_rendered_once_per_list_and_excluded_article() -> None:
    teasers = [teaser(f"p{n}") for n in range(7)]
    shown = PopularShown()
    first = shown.of(teasers, "elsewhere")
    assert shown.of(teasers, "elsewhere-too") is first  # neither is on the list: one rendering
    assert len(first.teasers) == 6
    without_p0 = shown.of(teasers, "p0")
    assert [t.article_id for t in without_p0.teasers] == [f"p{n}" for n in range(1, 7)]
    assert shown.of(list(teasers), "elsewhere") is not first  # a new list is rendered again


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


async def test_concurrent_requests_share_one_computation_unless_a_change_came_between() -> None:
    changes = feed(live=True)
    cache: UntilChanged[str, int] = UntilChanged(changes, max_age_s=60)
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        number = calls
        await release.wait()
        return number

    first = asyncio.create_task(cache.get("k", compute, lambda _: ["t"]))
    second = asyncio.create_task(cache.get("k", compute, lambda _: ["t"]))
    await asyncio.sleep(0)
    changes.changed(["elsewhere"])  # whoever asks from now on may need what changed
    third = asyncio.create_task(cache.get("k", compute, lambda _: ["t"]))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, second, third) == [1, 1, 2]
    assert calls == 2


async def test_a_value_past_its_age_is_served_while_it_is_recomputed() -> None:
    cache: UntilChanged[str, int] = UntilChanged(feed(live=True), max_age_s=0.05)
    compute = Counted(delay_s=0.05)

    assert await cache.get("k", compute, lambda _: ["t"]) == 1
    await asyncio.sleep(0.06)
    assert await cache.get("k", compute, lambda _: ["t"]) == 1  # past its age: served, refreshing
    await asyncio.sleep(0.07)
    assert await cache.get("k", compute, lambda _: ["t"]) == 2  # refreshed in the background
    assert compute.calls == 2


async def test_a_short_lived_value_is_computed_once_for_concurrent_requests() -> None:
    lists: ShortLived[str, int] = ShortLived(ttl_s=1)
    compute = Counted(delay_s=0.01)

    assert await asyncio.gather(*(lists.get("k", compute) for _ in range(5))) == [1] * 5


async def test_a_list_that_gained_an_article_is_served_once_more_while_recomputed() -> None:
    changes = feed(live=True)
    cache: UntilChanged[str, int] = UntilChanged(changes, max_age_s=60)
    compute = Counted()

    def tags(_: int) -> list[str]:
        return ["list:section:sport", "article:a"]

    assert await cache.get("k", compute, tags) == 1
    changes.changed(["list:section:sport"])
    assert cache.state("k") == "due"
    assert await cache.get("k", compute, tags) == 1  # served, and recomputed meanwhile
    await asyncio.sleep(0)
    assert await cache.get("k", compute, tags) == 2
    changes.changed(["article:a"])  # an article's change, e.g. its retraction: never served again
    assert cache.state("k") == "absent"
    assert await cache.get("k", compute, tags) == 3


async def test_what_others_are_computed_from_is_never_served_due() -> None:
    changes = feed(live=True)
    pages: UntilChanged[str, int] = UntilChanged(changes, max_age_s=60, serve_due=False)
    compute = Counted()

    def tags(_: int) -> list[str]:
        return ["list:section:sport"]

    assert await pages.get("first page", compute, tags) == 1
    changes.changed(["list:section:sport"])  # the list gained an article
    assert pages.state("first page") == "absent"
    assert await pages.get("first page", compute, tags) == 2  # computed before it is served


async def test_a_full_cache_lets_its_oldest_value_go() -> None:
    cache: UntilChanged[str, str] = UntilChanged(feed(live=True), max_age_s=60, max_entries=2)

    async def value_of(key: str) -> str:
        return await cache.get(key, lambda: asyncio.sleep(0, result=key), lambda _: [f"article:{key}"])

    for key in ("a", "b", "c"):
        await value_of(key)
    assert [cache.state(k) for k in ("a", "b", "c")] == ["absent", "kept", "kept"]
