"""Changes announced over real Redis pub/sub reach the read API's caches: an article's
change drops what depends on it, a rewritten Related list makes that article's Related due, and
a lost subscription makes the caches short-lived and empty until it is back."""

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from newsflow_publication.adapters.changes import (
    ChangeAnnouncer,
    ChangeListener,
    article_tag,
    related_tag,
)
from newsflow_publication.adapters.read_cache import UntilChanged
from newsflow_publication.adapters.related import RedisRelated
from redis.asyncio import Redis

from tests.support.stack import REDIS, unique


async def until(condition: object, timeout_s: float = 3.0) -> float:
    """Seconds until `condition()` holds; fails after `timeout_s`."""
    started = asyncio.get_running_loop().time()
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() - started > timeout_s:
            pytest.fail(f"not within {timeout_s} s")
        await asyncio.sleep(0.005)
    return asyncio.get_running_loop().time() - started


@pytest.fixture
async def listening() -> AsyncIterator[tuple[ChangeListener, Redis]]:
    listener = ChangeListener(REDIS, unique("newsflow:test:changes"))
    redis = Redis.from_url(REDIS)
    async with listener.running():
        await until(lambda: listener.live)
        yield listener, redis
    await redis.aclose()


async def kept(cache: UntilChanged[str, str], key: str, value: str, *tags: str) -> None:
    async def compute() -> str:
        return value

    await cache.get(key, compute, lambda _: tags)


async def test_an_announced_change_drops_what_depends_on_it(
    listening: tuple[ChangeListener, Redis],
) -> None:
    listener, redis = listening
    cache: UntilChanged[str, str] = UntilChanged(listener, max_age_s=60)
    await kept(cache, "page-a", "A", article_tag("a"), article_tag("b"))
    await kept(cache, "page-c", "C", article_tag("c"))
    await ChangeAnnouncer(redis, listener.channel).announce([article_tag("b")])
    took = await until(lambda: cache.state("page-a") == "absent")
    assert took < 1.0
    assert cache.state("page-c") == "kept"


async def test_rewritten_related_lists_are_announced_with_the_write(
    listening: tuple[ChangeListener, Redis],
) -> None:
    listener, redis = listening
    cache: UntilChanged[str, str] = UntilChanged(listener, max_age_s=60)
    for article in ("x", "y", "z"):
        await kept(cache, article, article, related_tag(article))
    store = RedisRelated(redis, prefix=unique("newsflow:test:related"), changes_channel=listener.channel)
    await store.replace({"x": {"y": 0.5}})
    await until(lambda: cache.state("x") == "due")  # served once more while recomputed
    await store.offer("new", {"y": 0.4})
    await until(lambda: cache.state("y") == "due")
    assert cache.state("z") == "kept"
    await redis.delete(store.key("x"), store.key("y"))


async def test_a_lost_subscription_empties_the_caches_and_comes_back(
    listening: tuple[ChangeListener, Redis],
) -> None:
    listener, redis = listening
    cache: UntilChanged[str, str] = UntilChanged(listener, max_age_s=60)
    await kept(cache, "page", "P", article_tag("p"))
    ours = [c["id"] for c in await redis.client_list() if c["name"] == f"newsflow-changes-{os.getpid()}"]
    assert ours, "the listener's connection is not named as expected"
    for client_id in ours:
        await redis.client_kill_filter(_id=client_id)
    await until(lambda: not listener.live or cache.state("page") == "absent")
    assert cache.state("page") == "absent"  # forgotten: announcements may have been missed
    await until(lambda: listener.live, timeout_s=5.0)
    await kept(cache, "page", "P2", article_tag("p"))
    await ChangeAnnouncer(redis, listener.channel).announce([article_tag("p")])
    await until(lambda: cache.state("page") == "absent")
