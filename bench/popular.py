"""How fast page views go from Kafka into Popular's Redis counters, beside the raw pipelined
ZINCRBY rate of the same Redis and the Kafka client's own read rate, and how fresh Popular is
(view produced -> on /v1/popular).

    .venv/bin/python bench/popular.py [--views 200000] [--articles 2000] [--probes 100]
                                      [--batch-max N] [--processes 1]

Starts its own publication process (its own consumer groups, positioned at the end of their
topics, and Redis prefix) against the local stack (`make up`). Absorption: `--views` views for
`--articles` articles (long tail, each in a section and two subjects) are produced while the
service is stopped, then the service starts and drains them; views/s = the views counted from
the first poll that sees any counted to the last counted view, over that time (progress is read
from the offsets the counting script stores, one MGET every 20 ms; the counted total is checked
against the views at the end). CPU per view: the publication processes' user+system time and
Redis's (`INFO cpu`, the whole server) over the same interval. `--batch-max` sets
NEWSFLOW_POPULAR_BATCH_MAX (default: the service's); `--processes` starts that many
publication processes sharing the consumer group, and the timing then starts once the group is
stable with all of them (the first may drain much alone meanwhile: give more `--views`).
Kafka client alone: the same views read with aiokafka's getmany and nothing done with them,
the ceiling of one Python consumer process.
Fold: the batch that folds a closed 5-minute bucket of `--articles` articles (25 views each, new
visitors) into its hour and day, timed (median of 3, under a prefix of its own).
Freshness: with the backlog drained, `--probes` views of new, listed articles are produced
one at a time, 4 views each, and timed until the article is first on `/v1/popular?window=1h`
of its own section (p50/p99; includes the batch wait and the cached list, NEWSFLOW_POPULAR_CACHE_S)."""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsflow_contracts.topics import PAGEVIEW_RECORDED
from newsflow_publication.adapters.listings import RedisListings
from newsflow_publication.adapters.popularity import RedisPopularity, View
from newsflow_publication.domain.listings import Teaser
from newsflow_publication.domain.popularity import WINDOWS

from tests.support.processes import Services
from tests.support.stack import KAFKA, REDIS, commit_group_at_end, end_offsets, unique


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


async def counted(redis: Redis, prefix: str, articles: list[str]) -> int:
    """Views counted over 7 days (undecayed), as the API reads them."""
    popularity = RedisPopularity(redis, prefix=prefix)
    now = time.time()
    total = 0
    for start in range(0, len(articles), 50):
        chunk = articles[start : start + 50]
        found = await asyncio.gather(
            *(popularity.article_views(a, [WINDOWS["7d"]], now_s=now) for a in chunk)
        )
        total += sum(views.views["7d"] for views in found)
    return total


async def handled(redis: Redis, prefix: str, group: str, start: dict[TopicPartition, int]) -> int:
    """Records the counting script has handled since `start`, from the offsets it stores."""
    stored = await redis.mget([f"{prefix}:offsets:{group}:{tp.partition}" for tp in start])
    return sum(int(v) + 1 - start[tp] for tp, v in zip(start, stored, strict=True) if v is not None)


async def kafka_read_rate(start: dict[TopicPartition, int], records: int) -> float:
    """Records/s of aiokafka's getmany alone over the same records, nothing done with them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        read, first = 0, None
        while read < records:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if first is None and batch:
                first = time.perf_counter()
            read += sum(len(part) for part in batch.values())
        assert first is not None
        return read / (time.perf_counter() - first)
    finally:
        await consumer.stop()


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass
class Drain:
    """The drain's figures over its timed interval (from `progress`: the readings at one moment)."""

    seconds: float
    views: int  # counted within those seconds
    publication_cpu_s: float
    redis_cpu_s: float


async def timed_drain(
    redis: Redis,
    prefix: str,
    group: str,
    view_offsets: dict[TopicPartition, int],
    views: int,
    processes: list[Services],
) -> Drain:
    """Start the publication processes and time their drain of the views: from the first poll
    (every 20 ms, from the start) that sees any view counted, and with several processes once
    the consumer group is stable with all of them (their rebalance left out), to the poll that
    sees them all."""
    starting = asyncio.gather(*(asyncio.to_thread(each.start, "publication") for each in processes))
    first: Drain | None = None
    pids: list[int] = []
    joined = len(processes) == 1
    while True:
        if starting.done() and starting.exception():
            raise RuntimeError("a publication process did not start") from starting.exception()
        joined = joined or await group_is_stable_with(group, len(processes))
        done = await handled(redis, prefix, group, view_offsets)
        if done and joined and first is None:
            pids = [each.procs["publication"].pid for each in processes]
            first = await progress(redis, pids, done)
        if done >= views and first is not None:
            last = await progress(redis, pids, done)
            break
        await asyncio.sleep(0.02)
    await starting
    return Drain(
        seconds=last.seconds - first.seconds,
        views=last.views - first.views,
        publication_cpu_s=last.publication_cpu_s - first.publication_cpu_s,
        redis_cpu_s=last.redis_cpu_s - first.redis_cpu_s,
    )


async def group_is_stable_with(group: str, members: int) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        _, _, state, _, _, found = response.groups[0]
        return bool(state == "Stable" and len(found) == members)
    finally:
        await admin.close()


async def progress(redis: Redis, pids: list[int], done: int) -> Drain:
    """Where the drain stands: the clock, the views counted and the CPU time used so far."""
    return Drain(time.perf_counter(), done, sum(map(process_cpu_s, pids)), await redis_cpu_s(redis))


async def unlist(listings: RedisListings, article_ids: list[str]) -> None:
    """Take the run's articles off the lists: their keys go with the run's, but their places in
    the site-wide list (a key of its own) would stay."""
    for article_id in article_ids:
        await listings.remove(article_id)


async def fold_ms(redis: Redis, prefix: str, articles: int, runs: int = 3) -> float:
    """Median time of the batch that folds a closed 5-minute bucket holding `articles`
    articles, 25 views each from new visitors (the script blocks Redis meanwhile)."""
    times = []
    for run in range(runs):
        popularity = RedisPopularity(redis, prefix=f"{prefix}:fold{run}")
        start = (time.time() // 300) * 300 + 10
        offset = 0
        for _ in range(25):
            views = [
                View(0, offset + i, str(offset + i), f"a{i}", start, uuid.uuid4().hex)
                for i in range(articles)
            ]
            await popularity.absorb("fold", views, now_s=start)
            offset += articles
        began = time.perf_counter()
        await popularity.absorb("fold", [View(0, offset, "next", "a0", start + 300)], now_s=start + 300)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


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
    processes = [Services.isolated() for _ in range(args.processes)]
    for services in processes:
        services.env.update(
            {
                "NEWSFLOW_POPULAR_PREFIX": prefix,
                "NEWSFLOW_POPULAR_GROUP": group,
                "NEWSFLOW_WEBHOOKS_ENABLED": "false",
            }
        )
        if args.batch_max:
            services.env["NEWSFLOW_POPULAR_BATCH_MAX"] = str(args.batch_max)
        await services.groups_at_end()  # no replay of the article topics meanwhile
    services = processes[0]
    await commit_group_at_end(group, [PAGEVIEW_RECORDED.name])
    view_offsets = await end_offsets(PAGEVIEW_RECORDED.name)
    redis = Redis.from_url(REDIS)
    listings = RedisListings(redis)
    rng = random.Random(7)
    sections = [f"{run}-s{i}" for i in range(10)]
    articles = [f"{run}-a{i}" for i in range(args.articles)]
    now = datetime.now(UTC)
    for i, article in enumerate(articles):
        subjects = [f"urn:newsflow:subject:topic:{run}-{i % 7}", f"urn:newsflow:subject:topic:{run}-{i % 11}"]
        await listings.put(
            Teaser(
                article_id=article,
                slug=article,
                headline=article,
                teaser="…",
                section=sections[i % 10],
                subjects=subjects,
                published_at=now,
                version=1,
            ),
            ["all", f"section:{sections[i % 10]}", *(f"subject:{s}" for s in subjects)],
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

        kafka_rate = await kafka_read_rate(view_offsets, args.views)

        drain = await timed_drain(redis, prefix, group, view_offsets, args.views, processes)
        total = await counted(redis, prefix, articles)
        assert total == args.views, f"{total:,} views counted, {args.views:,} produced"
        batch_max = args.batch_max or "the default"
        print(
            f"absorbed {args.views:,} views: {drain.views / drain.seconds:,.0f} views/s ({drain.views:,} "
            f"in {drain.seconds:.2f} s; {args.processes} process(es), batch max {batch_max})"
        )
        print(
            f"CPU per view while draining: {drain.publication_cpu_s / drain.views * 1e6:.1f} µs in "
            f"publication, {drain.redis_cpu_s / drain.views * 1e6:.1f} µs in Redis (Redis's figure "
            "includes whatever else the shared server did meanwhile)"
        )
        print(f"Kafka client alone (aiokafka getmany, no processing): {kafka_rate:,.0f} records/s")
        print(
            f"fold of a closed 5-minute bucket of {args.articles:,} articles (25 views each): "
            f"{await fold_ms(redis, prefix, args.articles):.0f} ms, median of 3 (one script: Redis waits)"
        )

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
                    ["all", f"section:{section}"],
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
        for each in processes:
            each.stop_all()
        print(f"raw Redis: {zincrby_rate()}")
        await unlist(listings, [*articles, *(f"{run}-probe{n}" for n in range(args.probes))])
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
    parser.add_argument("--batch-max", type=int, default=0, help="NEWSFLOW_POPULAR_BATCH_MAX (0: default)")
    parser.add_argument("--processes", type=int, default=1, help="publication processes sharing the group")
    asyncio.run(main(parser.parse_args()))
