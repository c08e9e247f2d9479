"""Page-payload throughput and latency of the publication read API at fixed request rates,
beside the raw MongoDB and Redis operation rates measured in the same run.

    .venv/bin/python bench/read_api.py [--articles 500] [--rates 250,500,1000] [--seconds 10] [--runs 3]
        [--corpus ../shared/corpus/bbc-news.jsonl] [--routes page,related,more-like-this]
        [--changes-per-s 0]

Starts its own publication process (one worker, its own database) against the local stack
(`make up`), stores `--articles` articles through the service's own adapters (corpus
articles through enrichment's pipeline when `--corpus` is given, else the samples), with
their Related lists computed by publication's RelatedIndex, then drives each route over
random articles at each fixed rate with vegeta (an open-loop load generator, built from the
Go module proxy into .cache/tools/bin on first use) and prints p50/p99 latency and the rate
achieved; medians over the runs. Routes: `GET /v1/pages/{id}` (target p99 10 ms at
1,000/s), `/v1/articles/{id}/related` and `/more-like-this` (target p99 5 ms).

The read API keeps what it computed until a change is announced; `--changes-per-s` announces
that many random article changes a second meanwhile, each dropping the article, its Related
list and its section's More like this lists, so that the figures include recomputing them.
At the end the run's articles leave the shared lists and its database is dropped."""

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from newsflow_contracts.events import ArticleContent, ArticleEnriched
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_RETRACTED
from newsflow_enrichment.domain import build_enrichers
from newsflow_enrichment.domain.pipeline import enrich
from newsflow_publication.adapters.articles import MongoArticleRepository
from newsflow_publication.adapters.listings import RedisListings
from newsflow_publication.adapters.related import RedisRelated
from newsflow_publication.domain.articles import publish
from newsflow_publication.domain.listings import lists_of, teaser_of
from newsflow_publication.domain.related import RelatedIndex
from pymongo import AsyncMongoClient
from redis import Redis as SyncRedis
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".cache" / "tools" / "bin"
VEGETA = TOOLS / "vegeta"
KAFKA = os.environ.get("NEWSFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("NEWSFLOW_MONGO_URL", "mongodb://127.0.0.1:27017")
REDIS = os.environ.get("NEWSFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")


def vegeta() -> Path:
    if not VEGETA.exists():
        print("building vegeta from the Go module proxy (first time only)", file=sys.stderr)
        subprocess.run(
            ["go", "install", "github.com/tsenart/vegeta/v12@v12.12.0"],
            env={**os.environ, "GOBIN": str(TOOLS)},
            check=True,
        )
    return VEGETA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def group_at_end(group: str) -> None:
    """The bench's consumer group starts at the end: the service must not replay history."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (ARTICLE_ENRICHED.name, ARTICLE_RETRACTED.name)
            for p in range(ARTICLE_ENRICHED.partitions)
        ]
        consumer.assign(partitions)
        await consumer.commit(dict(await consumer.end_offsets(partitions)))
    finally:
        await consumer.stop()


def articles_to_seed(corpus: Path | None, count: int) -> list[tuple[str, str, str | None]]:
    """(headline, body HTML, section) of `count` articles."""
    if corpus is not None:
        docs = [json.loads(line) for line in corpus.read_text().splitlines() if line][:count]
        return [
            (d["title"], "".join(f"<p>{p.strip()}</p>" for p in d["body"].split("\n\n") if p.strip()), None)
            for d in docs
        ]
    samples = [
        json.loads(line) for line in (ROOT / "samples/articles.jsonl").read_text().splitlines() if line
    ]
    return [
        (f"{s['headline']} ({n})", s["body_html"], s.get("section"))
        for n, s in ((n, samples[n % len(samples)]) for n in range(count))
    ]


async def seed(
    database: str, related_prefix: str, corpus: Path | None, count: int
) -> tuple[list[str], dict[str, str]]:
    """The ids of the stored articles, and each one's section."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    redis = Redis.from_url(REDIS)
    repository, listings = MongoArticleRepository(mongo, database), RedisListings(redis)
    await repository.create_indexes()
    enrichers, index = build_enrichers(), RelatedIndex()
    sections = ["politics", "business", "sport", "technology", "culture", "science"]
    now, ids, section_of = datetime.now(UTC), [], {}
    for n, (headline, body, section) in enumerate(articles_to_seed(corpus, count)):
        article_id = str(uuid.uuid4())
        content = ArticleContent(
            headline=headline,
            body_html=body,
            section=section or sections[n % len(sections)],
            first_created=now,
            updated=now,
        )
        enriched = ArticleEnriched(
            article_id=article_id,
            version=1,
            source="bench",
            external_id=article_id,
            slug=f"bench-{article_id}",
            accepted_at=now,
            content=content,
            enrichment=enrich(content, enrichers),
        )
        article = publish(enriched, now=now)
        await repository.save(article)
        await listings.put(teaser_of(article), lists_of(article))
        if article.enrichment.signature:
            index.load(article_id, {t.term: t.weight for t in article.enrichment.signature.terms})
        ids.append(article_id)
        section_of[article_id] = content.section or ""
    index.rebuild()
    await RedisRelated(redis, prefix=related_prefix).replace({a: index.related_of(a) for a in ids})
    await redis.aclose()
    await mongo.close()
    return ids, section_of


async def unseed(database: str, related_prefix: str, ids: list[str]) -> None:
    """Take the run's articles off the shared lists and drop what else it wrote."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO)
    redis = Redis.from_url(REDIS)
    listings = RedisListings(redis)
    for article_id in ids:
        await listings.remove(article_id)
    async for key in redis.scan_iter(match=f"{related_prefix}:*", count=1000):
        await redis.delete(key)
    await mongo.drop_database(database)
    await redis.aclose()
    await mongo.close()


def churn(channel: str, section_of: dict[str, str], per_s: float, stop: threading.Event) -> None:
    """Announce `per_s` changes a second, as the consumer and the Related indexer would: a
    random article updated (its caches, its section's More like this) and its Related list
    rewritten."""
    redis = SyncRedis.from_url(REDIS)
    ids = list(section_of)
    while not stop.wait(1 / per_s):
        article_id = random.choice(ids)
        tags = [f"article:{article_id}", f"list:section:{section_of[article_id]}", f"related:{article_id}"]
        redis.publish(channel, json.dumps(tags))
    redis.close()


async def raw_rates(database: str, ids: list[str], seconds: float = 3.0) -> dict[str, float]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO)
    redis = Redis.from_url(REDIS)
    articles = mongo[database]["articles"]

    async def loop(operation: Any, concurrency: int) -> float:
        done, deadline = 0, time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await operation(random.choice(ids))
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / seconds

    rates = {
        "mongo find by _id /s": await loop(lambda a: articles.find_one({"_id": a}), 16),
        "redis GET /s": await loop(lambda a: redis.get(f"newsflow:pub:teaser:{a}"), 16),
    }
    await redis.aclose()
    await mongo.close()
    return rates


ROUTES = {
    "page": "/v1/pages/{id}",
    "related": "/v1/articles/{id}/related",
    "more-like-this": "/v1/articles/{id}/more-like-this",
}


def attack(url: str, route: str, ids: list[str], rate: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as targets:
        for article_id in random.sample(ids, len(ids)):
            targets.write(f"GET {url}{ROUTES[route].format(id=article_id)}\n\n")
    attacked = subprocess.run(
        [
            str(vegeta()),
            "attack",
            f"-targets={targets.name}",
            f"-rate={rate}",
            f"-duration={seconds}s",
            "-timeout=5s",
        ],
        check=True,
        capture_output=True,
    ).stdout
    report = json.loads(
        subprocess.run(
            [str(vegeta()), "report", "-type=json"], input=attacked, check=True, capture_output=True
        ).stdout
    )
    os.unlink(targets.name)
    return {
        "p50_ms": report["latencies"]["50th"] / 1e6,
        "p99_ms": report["latencies"]["99th"] / 1e6,
        "achieved_per_s": report["throughput"],
        "success": report["success"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, help="JSON lines with title and body, e.g. the BBC corpus")
    parser.add_argument("--routes", default="page,related,more-like-this")
    parser.add_argument(
        "--changes-per-s",
        type=float,
        default=0.0,
        help="articles announced as changed a second while the routes are driven (see churn())",
    )
    args = parser.parse_args()
    routes = args.routes.split(",")
    vegeta()

    run = uuid.uuid4().hex[:8]
    port, database, group = free_port(), f"bench_{run}_publication", f"bench-{run}-publication"
    env = {**os.environ, "NEWSFLOW_PUBLICATION_PORT": str(port), "NEWSFLOW_PUBLICATION_DB": database}
    env["NEWSFLOW_PUBLICATION_GROUP"] = group
    related_prefix = env["NEWSFLOW_RELATED_PREFIX"] = f"bench:{run}:related"
    env["NEWSFLOW_RELATED_START"] = "end"  # the bench wrote the lists; the indexer adds nothing
    # the read path alone: no page views to count, no webhooks to send in this process
    env["NEWSFLOW_POPULAR_ENABLED"] = env["NEWSFLOW_WEBHOOKS_ENABLED"] = "false"
    env["NEWSFLOW_POPULAR_PREFIX"] = f"bench:{run}:pop"  # Popular of these articles, not of earlier runs
    channel = env["NEWSFLOW_CHANGES_CHANNEL"] = f"bench:{run}:changes"
    asyncio.run(group_at_end(group))
    started = time.perf_counter()
    ids, section_of = asyncio.run(seed(database, related_prefix, args.corpus, args.articles))
    print(f"seeded {len(ids)} articles with their Related lists in {time.perf_counter() - started:.0f} s")
    log = open(ROOT / ".run" / "logs" / f"bench-publication-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/newsflow-publication"), "serve"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    stop_churn = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"publication did not start; see {log.name}")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        for route in routes:  # warm up: every article once (a cold worker is another figure)
            attack(url, route, ids, 100, max(2, math.ceil(len(ids) / 100)))
        if args.changes_per_s > 0:
            threading.Thread(
                target=churn, args=(channel, section_of, args.changes_per_s, stop_churn), daemon=True
            ).start()
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        raws: list[dict[str, float]] = []
        for number in range(args.runs):
            raws.append(asyncio.run(raw_rates(database, ids)))
            for route in routes:
                for rate in map(int, args.rates.split(",")):
                    row = attack(url, route, ids, rate, args.seconds)
                    results.setdefault((route, rate), []).append(row)
                    print(
                        f"run {number + 1} {route} @ {rate}/s: p50 {row['p50_ms']:.1f} ms, "
                        f"p99 {row['p99_ms']:.1f} ms, achieved {row['achieved_per_s']:.0f}/s, "
                        f"success {row['success']:.1%}"
                    )
    finally:
        stop_churn.set()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # still answering a backlog of requests
            proc.wait()
        asyncio.run(unseed(database, related_prefix, ids))
    raw = {name: statistics.median(r[name] for r in raws) for name in raws[0]}
    print("raw, same run (16 concurrent): " + ", ".join(f"{name} {value:.0f}" for name, value in raw.items()))
    for (route, rate), rows in results.items():
        p50, p99 = (statistics.median(r[k] for r in rows) for k in ("p50_ms", "p99_ms"))
        achieved = statistics.median(r["achieved_per_s"] for r in rows)
        ratio = achieved / raw["mongo find by _id /s"]
        print(
            f"median {route} @ {rate}/s: GET {ROUTES[route]} p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"achieved {achieved:.0f}/s ({ratio:.2f} of the raw find-by-_id rate; one worker, "
            f"{len(ids)} articles, {args.changes_per_s:g} changes/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
