"""Popular counts every page view exactly once under redelivery.

100,000 views for 300 articles go to news.pageview.recorded.v1 (2% of them sent a second time
with the same ce_id, as a site retrying would), while the publication process counting them is
killed with SIGKILL twice mid-run and restarted. A kill can land between the Redis write and
the Kafka commit, so that a batch is read again; after the first kill the group's Kafka
commits are also moved back to where the run began, so everything counted so far is
offered again. The per-article totals in Redis must equal the
test's ledger exactly."""

import asyncio
import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from newsflow_publication.adapters.popularity import RedisPopularity
from newsflow_publication.domain.popularity import WINDOWS
from redis.asyncio import Redis

from tests.support.processes import Services
from tests.support.stack import KAFKA, REDIS, commit_group_at_end, end_offsets, unique

VIEWS = 100_000
ARTICLES = 300
RESENT = 0.02
SEED = int(os.environ.get("NEWSFLOW_CHAOS_SEED", str(random.randrange(1 << 30))))


def headers(view_id: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_id", view_id.encode()),
        ("ce_type", b"news.pageview.recorded.v1"),
        ("ce_source", b"/tests/popular"),
        ("ce_specversion", b"1.0"),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]


async def produce(run: str, rng: random.Random, sent: list[int]) -> Counter[str]:
    """Sends the views; returns the ledger (unique views per article)."""
    ledger: Counter[str] = Counter()
    articles = [f"{run}-a{i}" for i in range(ARTICLES)]
    weights = [1 / (i + 1) for i in range(ARTICLES)]  # a long tail, like real traffic
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        pending = []
        for n in range(VIEWS):
            article = rng.choices(articles, weights)[0]
            view_id = str(uuid.UUID(int=rng.getrandbits(128)))
            value = json.dumps(
                {
                    "article_id": article,
                    "site": "test",
                    "viewed_at": datetime.now(UTC).isoformat(),
                    "visitor": f"v{rng.randrange(5000)}",
                }
            ).encode()
            copies = 2 if rng.random() < RESENT else 1
            for _ in range(copies):
                pending.append(
                    await producer.send(
                        PAGEVIEW_RECORDED.name, value, key=article.encode(), headers=headers(view_id)
                    )
                )
            ledger[article] += 1
            sent[0] = n + 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
                await asyncio.sleep(0.05)  # spread the run so that the kills land mid-stream
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return ledger


async def totals(redis: Redis, prefix: str, articles: list[str]) -> Counter[str]:
    """Views counted per article over 7 days (undecayed), as the API reads them."""
    popularity = RedisPopularity(redis, prefix=prefix)
    now = time.time()
    found: Counter[str] = Counter()
    for start in range(0, len(articles), 50):  # a transaction, so a connection, each
        chunk = articles[start : start + 50]
        counts = await asyncio.gather(
            *(popularity.article_views(a, [WINDOWS["7d"]], now_s=now) for a in chunk)
        )
        found.update({a: views.views["7d"] for a, views in zip(chunk, counts, strict=True)})
    return +found


async def commit_offsets(group: str, offsets: dict[TopicPartition, int]) -> None:
    """Move the group's commits; Kafka takes them once the killed member's session expired."""
    deadline = time.monotonic() + 60
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit(offsets)
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
        finally:
            await consumer.stop()
        await asyncio.sleep(1)


async def counted_past_commit(redis: Redis, prefix: str, group: str) -> int:
    """Records Redis has counted beyond the group's committed Kafka offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    ahead = 0
    for tp, meta in committed.items():
        stored = await redis.get(f"{prefix}:offsets:{group}:{tp.partition}")
        if stored is not None:
            ahead += max(0, int(stored) + 1 - meta.offset)
    return ahead


async def test_100k_views_with_resends_and_two_kills_are_counted_exactly_once() -> None:
    print(f"\nchaos seed {SEED} (NEWSFLOW_CHAOS_SEED={SEED} replays it)")
    rng = random.Random(SEED)
    run = unique("pop")
    services = Services.isolated()
    prefix = f"newsflow:test:{run}"
    group = f"{run}-popular"
    services.env.update(
        {
            "NEWSFLOW_POPULAR_PREFIX": prefix,
            "NEWSFLOW_POPULAR_GROUP": group,
            "NEWSFLOW_POPULAR_DEDUP_TTL_S": "3600",
            "NEWSFLOW_WEBHOOKS_ENABLED": "false",
        }
    )
    await commit_group_at_end(group, [PAGEVIEW_RECORDED.name])
    start = await end_offsets(PAGEVIEW_RECORDED.name)
    await commit_group_at_end(
        services.env["NEWSFLOW_PUBLICATION_GROUP"], ["news.article.enriched.v1", "news.article.retracted.v1"]
    )
    redis = Redis.from_url(REDIS)
    articles = [f"{run}-a{i}" for i in range(ARTICLES)]
    sent = [0]
    try:
        services.start("publication")
        producing = asyncio.create_task(produce(run, rng, sent))
        kills = sorted(rng.uniform(0.15, 0.85) for _ in range(2))
        first = kills[0]
        for fraction in kills:
            counted = 0
            while counted < fraction * VIEWS:  # kill while the views are being counted
                counted = sum((await totals(redis, prefix, articles)).values())
                await asyncio.sleep(0.02)
            services.kill("publication", signal.SIGKILL)
            if fraction == first:  # also lose Kafka's commits: the whole run so far is read again
                await commit_offsets(group, start)
            ahead = await counted_past_commit(redis, prefix, group)
            print(
                f"killed publication at {counted} views counted, {sent[0]} sent; {ahead} records "
                "counted in Redis past Kafka's committed offsets (read again after the restart)"
            )
            await asyncio.sleep(rng.uniform(0.5, 2))
            await asyncio.to_thread(services.start, "publication")
        ledger = await producing
        deadline = time.monotonic() + 180
        found: Counter[str] = Counter()
        while time.monotonic() < deadline:
            found = await totals(redis, prefix, articles)
            if found == ledger:
                break
            if sum(found.values()) > sum(ledger.values()):
                break  # counted twice: no point waiting
            await asyncio.sleep(1)
        over = {a: found[a] - ledger[a] for a in articles if found[a] > ledger[a]}
        under = {a: ledger[a] - found[a] for a in articles if found[a] < ledger[a]}
        assert not over, f"views counted twice: {dict(list(over.items())[:10])}"
        assert not under, f"views missing: {dict(list(under.items())[:10])}"
        assert sum(found.values()) == VIEWS
        print(f"{VIEWS} views counted exactly ({sum(ledger.values())} in the ledger)")
    finally:
        services.stop_all()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=10_000)]
        for i in range(0, len(keys), 1000):
            await redis.delete(*keys[i : i + 1000])
        await redis.aclose()
