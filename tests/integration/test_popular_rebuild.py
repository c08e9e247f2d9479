"""Popular rebuilt from the page-view topic (`newsflow-publication popular rebuild`) counts
exactly what was viewed, resent views once, and a publication process switched to the new
prefix and group goes on counting from there, nothing twice."""

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from newsflow_publication.adapters.popularity import RedisPopularity
from newsflow_publication.domain.popularity import WINDOWS
from newsflow_publication.entrypoints.popular_rebuild import rebuild
from newsflow_publication.settings import Settings
from redis.asyncio import Redis

from tests.reliability.test_popular_exactness import headers
from tests.support.processes import running_services
from tests.support.stack import KAFKA, REDIS, unique


async def send_views(articles: list[str], views: int, resent: int) -> Counter[str]:
    """`views` views spread over the articles, the first `resent` of them sent twice; the
    ledger of unique views per article."""
    ledger: Counter[str] = Counter()
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for n in range(views):
            article, view_id = articles[n % len(articles)], str(uuid.uuid4())
            body = json.dumps(
                {
                    "article_id": article,
                    "site": "test",
                    "viewed_at": datetime.now(UTC).isoformat(),
                    "visitor": f"v{n % 7}",
                }
            ).encode()
            for _ in range(2 if n < resent else 1):
                await producer.send(
                    PAGEVIEW_RECORDED.name, body, key=article.encode(), headers=headers(view_id)
                )
            ledger[article] += 1
        await producer.flush()
    finally:
        await producer.stop()
    return ledger


async def counted(popularity: RedisPopularity, articles: list[str]) -> Counter[str]:
    now = time.time()
    views = Counter[str]()
    for article in articles:
        views[article] = (await popularity.article_views(article, [WINDOWS["1h"]], now_s=now)).views["1h"]
    return +views


async def test_popular_is_rebuilt_from_the_view_topic_and_counting_goes_on_after_the_switch() -> None:
    run = unique("rebuild")
    articles = [f"{run}-a{i}" for i in range(4)]
    prefix, group = f"{run}:pop", f"{run}-popular"
    redis = Redis.from_url(REDIS)
    popularity = RedisPopularity(redis, prefix=prefix)
    since = time.time() - 1
    try:
        ledger = await send_views(articles, 400, resent=10)
        done = await rebuild(Settings(), prefix, group, since, progress=None)
        assert done.views >= 410  # every record since the start, ours among them
        assert await counted(popularity, articles) == ledger

        with pytest.raises(ValueError, match="choose a fresh prefix"):
            await rebuild(Settings(), prefix, group, since, progress=None)

        async with running_services(
            "publication",
            NEWSFLOW_POPULAR_PREFIX=prefix,
            NEWSFLOW_POPULAR_GROUP=group,
            NEWSFLOW_RELATED_ENABLED="false",
            NEWSFLOW_WEBHOOKS_ENABLED="false",
        ):
            ledger += await send_views(articles, 60, resent=5)
            deadline = time.monotonic() + 30
            while await counted(popularity, articles) != ledger and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # and nothing more arrives: the rebuilt views were not counted again
            assert await counted(popularity, articles) == ledger
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()
