"""How fast page views go from Kafka into Popular's Redis counters, beside the raw pipelined
ZINCRBY rate of the same Redis, and how fresh Popular is (view produced -> on /v1/popular).

    .venv/bin/python bench/popular.py [--views 200000] [--articles 2000] [--probes 100]

Starts its own publication process (its own consumer groups and Redis prefix) against the
local stack (`make up`). Absorption: `--views` views for `--articles` articles (long tail,
each in a section and two subjects) are produced while the service is stopped, then the
service starts and drains them; views/s = views / time from its first to its last counted view.
Freshness: with the backlog drained, `--probes` views of new, listed articles are produced
one at a time, 4 views each, and timed until the article is first on `/v1/popular?window=1h`
of its own section (p50/p99; includes the batch wait and the cached list, NEWSFLOW_POPULAR_CACHE_S)."""

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsflow_contracts.topics import PAGEVIEW_RECORDED
from newsflow_publication.adapters.listings import RedisListings
from newsflow_publication.domain.listings import Teaser

from tests.support.processes import Services
from tests.support.stack import KAFKA, REDIS, commit_group_at_end, unique


def headers(view_id: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_id", view_id.encode()),
        ("ce_type", b"news.pageview.recorded.v1"),
        ("ce_source", b"/bench/popular"),
        ("ce_specversion", b"1.0"),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]


def view(article: str) -> bytes:
    return json.dumps(
        {
            "article_id": article,
            "site": "bench",
            "viewed_at": datetime.now(UTC).isoformat(),
            "visitor": uuid.uuid4().hex,
        }
    ).encode()


async def counted(redis: Redis, prefix: str) -> int:
    total = 0
    async for key in redis.scan_iter(match=f"{prefix}:views:all:d:*"):
        total += int(sum(s for _, s in await redis.zrange(key, 0, -1, withscores=True)))
    return total


def zincrby_rate() -> str:
    if shutil.which("redis-benchmark") is None:
        return "redis-benchmark not installed"
    out = subprocess.run(
        [
            "redis-benchmark",
            "-q",
            "-P",
            "64",
            "-n",
            "2000000",
            "-r",
            "10000",
            "zincrby",
            "newsflow:bench:zincrby",
            "1",
            "a__rand_int__",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.findall(r"([\d.]+) requests per second", out.replace("\r", "\n"))
    subprocess.run(["redis-cli", "del", "newsflow:bench:zincrby"], capture_output=True, check=False)
    return f"{float(found[-1]):,.0f} ZINCRBY/s (redis-benchmark -P 64, 10,000 members)" if found else out


async def main(args: argparse.Namespace) -> None:
    run = unique("bench").replace("_", "-")
    prefix, group = f"newsflow:bench:{run}", f"{run}-popular"
    services = Services.isolated()
    services.env.update(
        {
            "NEWSFLOW_POPULAR_PREFIX": prefix,
            "NEWSFLOW_POPULAR_GROUP": group,
            "NEWSFLOW_WEBHOOKS_ENABLED": "false",
        }
    )
    await commit_group_at_end(group, [PAGEVIEW_RECORDED.name])
    redis = Redis.from_url(REDIS)
    listings = RedisListings(redis)
    rng = random.Random(7)
    sections = [f"{run}-s{i}" for i in range(10)]
    articles = [f"{run}-a{i}" for i in range(args.articles)]
    now = datetime.now(UTC)
    for i, article in enumerate(articles):
        await listings.put(
            Teaser(
                article_id=article,
                slug=article,
                headline=article,
                teaser="…",
                section=sections[i % 10],
                subjects=[
                    f"urn:newsflow:subject:topic:{run}-{i % 7}",
                    f"urn:newsflow:subject:topic:{run}-{i % 11}",
                ],
                published_at=now,
                version=1,
            ),
            ["all"],
        )
    weights = [1 / (i + 1) for i in range(args.articles)]
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=10)
    await producer.start()
    try:
        pending = []
        for article in rng.choices(articles, weights, k=args.views):
            pending.append(
                await producer.send(
                    PAGEVIEW_RECORDED.name,
                    view(article),
                    key=article.encode(),
                    headers=headers(uuid.uuid4().hex),
                )
            )
        await asyncio.gather(*pending)
        print(f"produced {args.views:,} views for {args.articles:,} articles")

        services.start("publication")
        first = last = None
        while True:
            total = await counted(redis, prefix)
            if total and first is None:
                first = time.perf_counter()
            if total >= args.views:
                last = time.perf_counter()
                break
            await asyncio.sleep(0.05)
        assert first is not None
        rate = args.views / (last - first)
        print(f"absorbed {args.views:,} views in {last - first:.2f} s: {rate:,.0f} views/s (one process)")

        lags = []
        async with httpx.AsyncClient(base_url=services.url("publication"), timeout=10) as http:
            for n in range(args.probes):
                article, section = f"{run}-probe{n}", f"{run}-probe"
                await listings.put(
                    Teaser(
                        article_id=article,
                        slug=article,
                        headline=article,
                        teaser="…",
                        section=section,
                        published_at=now,
                        version=1,
                    ),
                    ["all"],
                )
                start = time.perf_counter()
                for _ in range(4 + n):  # each probe outnumbers the ones before it
                    await producer.send(
                        PAGEVIEW_RECORDED.name,
                        view(article),
                        key=article.encode(),
                        headers=headers(uuid.uuid4().hex),
                    )
                await producer.flush()
                while True:
                    items = (await http.get(f"/v1/popular?window=1h&section={section}&limit=1")).json()[
                        "items"
                    ]
                    if items and items[0]["article_id"] == article:
                        break
                    await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - start)
        lags.sort()
        print(
            f"freshness view -> Popular, {len(lags)} probes: p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p99 {lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000:.0f} ms "
            "(batch timeout 100 ms + cached list 2 s)"
        )
    finally:
        await producer.stop()
        services.stop_all()
        print(f"raw Redis: {zincrby_rate()}")
        keys = [k async for k in redis.scan_iter(match=f"*{run}*", count=10_000)]
        for i in range(0, len(keys), 1000):
            await redis.delete(*keys[i : i + 1000])
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--views", type=int, default=200_000)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--probes", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
